// spawn({ replicate }) and map({ replicate }): children that replicate only some key prefixes receive
// no commits of other keys, refuse reads of them, and still write anywhere with their writes visible
// to the parent when their results arrive.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { WorkerContext } from '../lib/index.ts'
import { contextFor } from './process-support.ts'

const NOISE = 2_000
const WAIT = { timeout: 30_000 }

interface Report {
  refused: string
  keys: string[]
  bytesIn: number
}

// Waits for the parent's go, then reports what its replica holds and received meanwhile.
async function child(ctx: WorkerContext): Promise<Report> {
  let refused = ''
  try {
    ctx.state.get('noise/0')
  } catch (error) {
    refused = (error as { code: string }).code
  }
  const before = ctx.metrics().bytesIn
  await ctx.state.set(`jobs/ready-${ctx.name}`, true)
  await ctx.state.whenEqual('jobs/go', true, { timeout: 30_000 })
  const bytesIn = ctx.metrics().bytesIn - before
  await ctx.state.set(`out/${ctx.name}`, (ctx.state.get('jobs/base') as number) + 1)
  return { refused, keys: [...ctx.state.keys()].sort(), bytesIn }
}

for (const thread of [false, true]) {
  const kind = thread ? 'thread' : 'process'
  void test(`process: a ${kind} spawned with replicate receives no commits of other keys, and its writes reach the parent`, async (t) => {
    const ctx = await contextFor(t)
    await ctx.state.set('jobs/base', 41)
    const partial = ctx.spawn(child, { name: 'partial', thread, replicate: ['jobs/'] })
    // The control: the same child with a full replica.
    const full = ctx.spawn(child, { name: 'full', thread })
    await ctx.state.whenEqual('jobs/ready-partial', true, WAIT)
    await ctx.state.whenEqual('jobs/ready-full', true, WAIT)
    await Promise.all(Array.from({ length: NOISE }, (_, i) => ctx.state.set(`noise/${i}`, 'x'.repeat(20))))
    await ctx.state.set('jobs/go', true)
    const [mine, control] = await Promise.all([partial.wait(WAIT), full.wait(WAIT)])
    assert.equal(mine.refused, 'ERR_INVALID_ARGUMENT')
    assert.equal(control.refused, '')
    assert.deepEqual(mine.keys, ['jobs/base', 'jobs/go', 'jobs/ready-full', 'jobs/ready-partial'])
    // Every key but the children's results, which may or may not have arrived when it looked.
    assert.equal(control.keys.filter((key) => !key.startsWith('out/')).length, NOISE + 4)
    // The partial child heard of its own write and of jobs/go (and maybe the other child's ready);
    // the full one of every noise write.
    assert.ok(mine.bytesIn < 500, `the partial child received ${mine.bytesIn} bytes`)
    assert.ok(control.bytesIn > NOISE * 20, `the full child received ${control.bytesIn} bytes`)
    assert.equal(ctx.state.get('out/partial'), 42)
    assert.equal(ctx.state.get('out/full'), 42)
  })
}

void test('process: map workers with replicate hold only those keys; their writes are in the parent when map resolves', async (t) => {
  const ctx = await contextFor(t)
  await ctx.state.set('config/rate', 3)
  await ctx.state.set('other/big', 'y'.repeat(1000))
  for (const thread of [false, true]) {
    const items = Array.from({ length: 50 }, (_, i) => i)
    const results = await ctx.map(
      async (c: WorkerContext, n: number, _index: number, tag: string) => {
        await c.state.set(`results/${tag}/${n}`, n * (c.state.get('config/rate') as number))
        return [...c.state.keys()].filter((key) => !key.startsWith('results/')).join(',')
      },
      items,
      { replicate: ['config/', 'results/'], args: [String(thread)], thread, concurrency: 2 },
    )
    assert.deepEqual(new Set(results), new Set(['config/rate']))
    for (const n of items) assert.equal(ctx.state.get(`results/${String(thread)}/${n}`), n * 3)
  }
})

void test('process: spawn and map check replicate as connect does', async (t) => {
  const ctx = await contextFor(t)
  assert.throws(() => ctx.spawn(() => 1, { replicate: 'jobs/' as never }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /spawn: replicate must be an array of key prefixes/,
  })
  await assert.rejects(
    ctx.map(() => 1, [1], { replicate: [1] as never }),
    {
      code: 'ERR_INVALID_ARGUMENT',
      message: /map: replicate\[0\] must be a string/,
    },
  )
  assert.deepEqual(ctx.children, [])
})
