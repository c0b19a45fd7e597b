// What ZProc users reach for: ctx.wait, spawn({ count }), map({ args }), mapUnordered, endless
// retries, and options whose names are checked.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RemoteError, connect, createContext, type Context, type WorkerContext } from '../lib/index.ts'
import { allGone, contextFor, fixtureUrl, stressFor } from './process-support.ts'

void test('process: spawn({ count }) starts that many children; ctx.wait() gives their results in spawn order', async (t) => {
  const ctx = await contextFor(t)
  const handles = ctx.spawn(
    async (c: WorkerContext, base: number) => base + (await c.state.increment('started')),
    { count: 4, args: [100], name: 'adder' },
  )
  assert.equal(handles.length, 4)
  assert.deepEqual(
    handles.map((h) => h.name),
    ['adder-1', 'adder-2', 'adder-3', 'adder-4'],
  )
  const results = (await ctx.wait({ timeout: 60_000 })) as number[]
  // Each child got one distinct increment: 101…104 in some order, reported in spawn order.
  assert.deepEqual([...results].sort(), [101, 102, 103, 104])
  assert.deepEqual(results, await Promise.all(handles.map((h) => h.wait())))
  assert.equal(ctx.state.get('started'), 4)
  assert.deepEqual(ctx.children, [])
  assert.deepEqual(await ctx.wait(), [])
})

void test('process: ctx.wait() rejects with the first failure, leaves the others running, and honours its timeout', async (t) => {
  const ctx = await contextFor(t)
  const slow = ctx.spawn(async (c: WorkerContext) => c.state.when('go', (v) => v === true), { name: 'slow' })
  ctx.spawn(() => {
    throw new Error('first to fail')
  })
  await assert.rejects(
    ctx.wait(),
    (error: Error) => error instanceof RemoteError && /first to fail/.test(error.message),
  )
  assert.notEqual(slow.status, 'failed')
  await assert.rejects(ctx.wait({ timeout: 50 }), { code: 'ERR_TIMEOUT' })
  const reason = new Error('gave up')
  const controller = new AbortController()
  const waiting = ctx.wait({ signal: controller.signal })
  controller.abort(reason)
  await assert.rejects(waiting, (error) => error === reason)
  // The children whose outcomes no wait() handed over are still listed and waited for: the
  // failure was handed over, and left.
  assert.deepEqual(
    ctx.children.map((child) => child.name),
    ['slow'],
  )
  await ctx.state.set('go', true)
  assert.deepEqual(await ctx.wait(), [true])
  assert.deepEqual(ctx.children, [])
  assert.equal(await slow.wait(), true)
  // A handle's own wait(), whether it gives up or returns the outcome, keeps it listed: ctx.wait()
  // covers every child spawned since the last one it handed over.
  const late = ctx.spawn(async (c: WorkerContext) => c.state.when('late', (v) => v === true))
  await assert.rejects(late.wait({ timeout: 50 }), { code: 'ERR_TIMEOUT' })
  await ctx.state.set('late', true)
  await ctx.state.whenEqual('late', true)
  const [a, b] = (['a', 'b'] as const).map((name) =>
    ctx.spawn((_c: WorkerContext, n: string) => n, { args: [name] }),
  )
  assert.equal(await a!.wait(), 'a')
  assert.equal(await late.wait(), true)
  assert.deepEqual(await ctx.wait(), [true, 'a', 'b'])
  assert.equal(await b!.wait(), 'b')
  assert.equal(ctx.children.length, 0)
  await assert.rejects(ctx.wait({ timeout: 1, grace: 5 } as never), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /unknown option 'grace'/,
  })
  // A handle's wait() rejects a bad option too (it threw at the call: a .catch() missed it).
  await assert.rejects(a!.wait({ timeout: -1 }), { code: 'ERR_INVALID_ARGUMENT' })
})

void test('process: map({ args }) passes extra arguments to every call', async (t) => {
  const ctx = await contextFor(t)
  const results = await ctx.map(
    (_c: WorkerContext, x: number, index: number, factor: number, tag: string) =>
      `${tag}${x * factor}@${index}`,
    [1, 2, 3, 4, 5],
    { args: [10, '#'], concurrency: 2 },
  )
  assert.deepEqual(results, ['#10@0', '#20@1', '#30@2', '#40@3', '#50@4'])
  await assert.rejects(
    ctx.map(() => 1, [1], { args: 'x' as never }),
    { code: 'ERR_INVALID_ARGUMENT' },
  )
  await assert.rejects(
    ctx.map((_ctx, _item, _index, _fn: unknown) => 1, [1], { args: [() => 1] }),
    { code: 'ERR_UNENCODABLE' },
  )
})

void test('process: mapUnordered yields every result exactly once as it completes, with its index', async (t) => {
  const ctx = await contextFor(t)
  const count = stressFor(2_000, 100_000)
  const seen = new Map<number, number>()
  const order: number[] = []
  for await (const { index, value } of ctx.mapUnordered(
    async (c: WorkerContext, x: number, _i: number, offset: number) => {
      // The first item waits until ten later ones have come back: it completes after them.
      if (x === 0) await c.state.when('released', (v) => v === true, { timeout: 60_000 })
      return x + offset
    },
    Array.from({ length: count }, (_, i) => i),
    { concurrency: 2, args: [0.5] },
  )) {
    assert.ok(!seen.has(index), `index ${index} twice`)
    seen.set(index, value)
    order.push(index)
    if (seen.size === 10) await ctx.state.set('released', true)
  }
  assert.equal(seen.size, count)
  for (const [index, value] of seen) assert.equal(value, index + 0.5)
  assert.notDeepEqual(order.slice(0, 4), [0, 1, 2, 3], 'the slow first items came later')
})

void test('process: breaking out of mapUnordered stops its workers; a failure is thrown by the loop', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  async function* endless(): AsyncGenerator<number> {
    for (let i = 0; ; i++) yield i
  }
  let taken = 0
  for await (const result of ctx.mapUnordered(
    async (c: WorkerContext, x: number) => {
      await c.state.set(`worker:${process.pid}`, true)
      return x
    },
    endless(),
    { concurrency: 2 },
  )) {
    assert.equal(typeof result.value, 'number')
    if (++taken === 50) break
  }
  const pids = [...ctx.state.keys()].filter((k) => k.startsWith('worker:')).map((k) => Number(k.slice(7)))
  assert.ok(pids.length >= 1)
  await allGone(pids)

  const failing = ctx.mapUnordered(
    (_c: WorkerContext, x: number) => {
      if (x === 7) throw new Error('seven')
      return x
    },
    Array.from({ length: 20 }, (_, i) => i),
    { concurrency: 1 },
  )
  const values: number[] = []
  await assert.rejects(
    (async () => {
      for await (const { value } of failing) values.push(value)
    })(),
    (error: Error) => error instanceof RemoteError && /seven/.test(error.message),
  )
  assert.ok(!values.includes(7))
})

// mapUnordered over 0..count−1, one result read and then none: how many items it had pulled once
// that settled (unchanged over 10 round trips to the server), then every result read on, checked
// with `check` and counted once each.
async function heldBack<R>(
  ctx: Context<Record<string, unknown>>,
  count: number,
  target: (c: WorkerContext, i: number) => R,
  check: (value: R) => void,
): Promise<number> {
  let pulled = 0
  async function* counted(): AsyncGenerator<number> {
    for (let i = 0; i < count; i++) {
      pulled++
      yield i
    }
  }
  const results = ctx.mapUnordered(target, counted(), { concurrency: 1 })
  const first = await results.next()
  assert.equal(first.done, false)
  let stable = 0
  for (let previous = -1; stable < 10; previous = pulled) {
    await ctx.server()
    stable = pulled === previous ? stable + 1 : 0
  }
  const held = pulled
  // Reading on resumes the workers: every result arrives, once.
  const seen = new Set<number>([first.value.index])
  for await (const { index, value } of results) {
    check(value)
    seen.add(index)
  }
  assert.equal(seen.size, count)
  return held
}

void test('process: a slow mapUnordered consumer holds the workers back instead of piling up results', async (t) => {
  // The input stops being pulled once the unread results reach the high-water mark (1,000), and no
  // batch holds more than there was room for then: at most the mark plus two batches in flight (of
  // up to 1,000 each, one worker).
  const pulled = await heldBack(
    await contextFor(t),
    100_000,
    (_c, x) => x,
    () => {},
  )
  assert.ok(pulled <= 3_000, `pulled ${pulled} of 100,000 items with one result read`)
})

void test('process: a slow mapUnordered consumer of large results holds back at 16 MiB of them, not 1,000', async (t) => {
  // Results of 64 KiB: 256 of them make the mark, and a batch holds at most 96 KiB of them (one), so
  // about 260 items are pulled; by the count alone it would be over 1,000.
  const pulled = await heldBack(
    await contextFor(t),
    2_000,
    (_c, i) => `${i}:`.padEnd(1 << 16, '.'),
    (value) => assert.equal(value.length, 1 << 16),
  )
  assert.ok(pulled <= 400, `pulled ${pulled} of 2,000 items with one result read`)
})

void test('process: retries: Infinity retries until an attempt succeeds; its signal stops it', async (t) => {
  const ctx = await contextFor(t)
  const child = ctx.spawn<number>(fixtureUrl('worker-flaky.mjs'), {
    args: ['endless', 5],
    retries: Infinity,
    retryDelay: 1,
  })
  assert.equal(await child.wait(), 6)
  assert.equal(child.attempts, 6)

  const controller = new AbortController()
  const doomed = ctx.spawn(fixtureUrl('worker-flaky.mjs'), {
    args: ['doomed', Number.MAX_SAFE_INTEGER],
    retries: Infinity,
    signal: controller.signal,
  })
  await ctx.state.when('attempts:doomed', (n) => (n as number) >= 3, { timeout: 60_000 })
  const reason = new Error('enough')
  controller.abort(reason)
  await assert.rejects(doomed.wait(), (error) => error === reason)
  assert.equal(doomed.status, 'failed')
})

void test('process: misspelt options are refused with ERR_INVALID_ARGUMENT naming them', async (t) => {
  const ctx = await contextFor(t)
  assert.throws(() => ctx.spawn(() => 1, { retry: 2 } as never), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /spawn: unknown option 'retry'/,
  })
  await assert.rejects(
    ctx.map(() => 1, [1], { concurency: 2 } as never),
    {
      code: 'ERR_INVALID_ARGUMENT',
      message: /map: unknown option 'concurency'/,
    },
  )
  assert.throws(() => ctx.mapUnordered(() => 1, [1], { thread: true, nope: 1 } as never), {
    code: 'ERR_INVALID_ARGUMENT',
  })
  await assert.rejects(
    ctx.state.when('k', () => true, { timout: 5 } as never),
    {
      code: 'ERR_INVALID_ARGUMENT',
      message: /unknown option 'timout'/,
    },
  )
  await assert.rejects(ctx.waitForService('svc', { provider: 2 } as never), {
    code: 'ERR_INVALID_ARGUMENT',
  })
  // An array is no options object: an empty one passed for none.
  await assert.rejects(
    ctx.map(() => 1, [1], [] as never),
    {
      code: 'ERR_INVALID_ARGUMENT',
      message: /map: options must be an object, got an array/,
    },
  )
  assert.throws(() => ctx.spawn(() => 1, [] as never), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(ctx.state.set('k', 1, [] as never), { code: 'ERR_INVALID_ARGUMENT' })
  // Node flags are a process child's: a thread would ignore them.
  assert.throws(() => ctx.spawn(() => 1, { thread: true, execArgv: ['--no-warnings'] }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /spawn: execArgv is for process children/,
  })
  await assert.rejects(
    ctx.map(() => 1, [1], { thread: true, execArgv: [] }),
    {
      code: 'ERR_INVALID_ARGUMENT',
      message: /map: execArgv is for process children/,
    },
  )
  assert.throws(() => ctx.spawn(() => 1, { count: 0 }), { code: 'ERR_INVALID_ARGUMENT' })
  assert.throws(() => ctx.spawn(() => 1, { retries: -Infinity }), { code: 'ERR_INVALID_ARGUMENT' })
  assert.deepEqual(ctx.children, [])
  // An empty name is refused wherever a name is given, as spawn refuses it (it shows as nothing).
  assert.throws(() => ctx.spawn(() => 1, { name: '' }), { message: /spawn: name must be a non-empty string/ })
  await assert.rejects(createContext({ name: '' }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /createContext: name must be a non-empty string, got ""/,
  })
  await assert.rejects(connect(ctx.address, { name: '' }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /connect: name must be a non-empty string/,
  })
})
