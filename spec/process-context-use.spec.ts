import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatchSizer } from '../lib/process/batching.ts'
import { ignoresContext } from '../lib/process/context-use.ts'

// A map worker whose target cannot read its ctx runs without loading zstate's client or joining the
// server, so the judgement must never say "ignores" of a function that can reach its first argument.
// Each case is compiled from source text here, in strict mode as a module's export is, unless `sloppy`
// (as a function target is evaluated in a child, and a CommonJS module's function may be).
const compile = (source: string, sloppy = false): ((...args: never[]) => unknown) =>
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function(`${sloppy ? '' : '"use strict";'} return (${source})`)() as (...args: never[]) => unknown

void test('context use: a first parameter that nothing names again is never read', () => {
  for (const source of [
    '(_ctx, x) => x * x',
    '(_, x) => x',
    'async (_c, item, index) => { await null; return `${item}@${index}` }',
    'async(ctx,x)=>x',
    'function (c, x) { return x + 1 }',
    'function square($, x) { return x * x }',
    'async function* gen(_ctx, x) { yield x }',
    'function (_ctx, x, y = x * 2) { return y }',
    'async c => 1',
    'c => 1',
    '() => 42',
    'function () { return 42 }',
  ])
    assert.equal(ignoresContext(compile(source)), true, source)
})

void test('context use: any way of reaching the first argument counts as reading it', () => {
  for (const source of [
    '(ctx, x) => ctx.state.get(x)',
    '({ state }, x) => state.get(x)',
    '([a], x) => a',
    '(ctx = {}, x) => x',
    '(...args) => args[0]',
    '(/* ctx */ c, x) => x',
    '(ctx, x, y = ctx) => y',
    // Named again anywhere, even where it could not be the parameter: erring towards "it may".
    '(ctx, x) => "ctx" + x',
    '(ctx, x) => { const o = { ctx: 1 }; return o.ctx + x }',
    '(c, x) => { const f = (c) => c; return f(x) }',
    // Reached without its name.
    'function (c, x) { return arguments[0] }',
    'function f(c, x) { return f.arguments[0] }',
    '(c, x) => eval("c")',
    '(c, x) => { const \\u0063x = 1; return x }',
    // The name spelled through an escape elsewhere in the text.
    '(c, x) => x + "\\u0063"',
  ])
    assert.equal(ignoresContext(compile(source)), false, source)
  // A plain function in sloppy mode gives its arguments to whatever it calls, unnamed.
  const sloppy = compile('function f(_c, x) { return Reflect.get(f, "argu" + "ments")[0].name + x }', true)
  assert.equal(ignoresContext(sloppy), false)
  assert.equal((sloppy as unknown as (c: { name: string }, x: number) => string)({ name: 'ctx' }, 1), 'ctx1')
  const reader = compile(
    'function (_c, x) { return (function peek() { return peek.caller.arguments[0] })() }',
    true,
  )
  assert.equal(ignoresContext(reader), false)
  // Sloppy arrows, async functions and generators hand out nothing: they still ignore it.
  for (const source of [
    '(_c, x) => x',
    'async function (_c, x) { return x }',
    'function* (_c, x) { yield x }',
  ])
    assert.equal(ignoresContext(compile(source, true)), true, source)
})

void test('context use: methods, bound, native and class functions may read it', () => {
  const object = {
    method(this: void, _ctx: unknown, x: number) {
      return x
    },
  }
  const bound = ((_ctx: unknown, x: number) => x).bind(null)
  class Worker {}
  for (const fn of [object.method, bound, Math.max, Worker] as ((...args: never[]) => unknown)[])
    assert.equal(ignoresContext(fn), false, String(fn))
})

void test('batch sizes: one cold first item does not keep batches small once items run fast', () => {
  const sizer = new BatchSizer()
  assert.equal(sizer.size(undefined, 2), 1)
  // The first item runs before V8 has compiled anything: 50 µs. The rest take 2 µs each.
  sizer.record(1, 0.05)
  // Only a batch sent counts toward the next one's growth (map asks, then may wait for an async
  // producer's items before it sends).
  assert.equal(sizer.size(undefined, 2), sizer.size(undefined, 2))
  const sizes: number[] = []
  for (let batch = 0; batch < 5; batch++) {
    const size = sizer.size(undefined, 2)
    sizes.push(size)
    sizer.weigh(new Array<number>(size).fill(0)) // sent
    sizer.record(size, size * 0.002)
  }
  // Each grows by at most 8 from the largest sent (the first measurements are noisy), up to about
  // 20 ms of work: 10,000 items (what is left of the cold item's weight then counts for under 0.1 %).
  assert.deepEqual(sizes.slice(0, 4), [8, 64, 512, 4_096])
  const next = sizer.size(undefined, 2)
  assert.ok(next > 9_990 && next <= 10_000, `a batch of ${next}`)
  // Items of 0.5 µs would make 40,000 such: a batch stays at 12,288 (under V8's large-object size).
  for (let batch = 0; batch < 5; batch++) sizer.record(next, next * 0.0005)
  assert.equal(sizer.size(undefined, 2), 12_288)
})

void test('batch sizes: heavy items go one at a time, and a known tail is spread over the workers', () => {
  const sizer = new BatchSizer()
  sizer.size(undefined, 2)
  sizer.record(1, 30)
  assert.equal(sizer.size(undefined, 2), 1)
  assert.equal(sizer.small, false)
  const fast = new BatchSizer()
  fast.size(undefined, 2)
  fast.record(1, 0.001)
  assert.equal(fast.small, true)
  // 10 items left for 2 workers, two batches in flight each: 3 at most.
  assert.equal(fast.size(10, 2), 3)
})
