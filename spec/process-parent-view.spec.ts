// What a parent sees of its children's work: their writes before their results, state snapshots as
// plain objects, a context that loses its server, and a thread that falls behind its parent.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type WorkerContext } from '../lib/index.ts'
import { allGone, contextFor, failure, stressFor } from './process-support.ts'

void test('process: a child’s result arrives once the parent’s state shows what the child wrote', async (t) => {
  const ctx = await contextFor(t)
  // Threads report fastest, processes after their start-up: each child's write must be readable in
  // the parent as soon as its own result arrives, whichever finishes first.
  const count = stressFor(16, 200)
  const handles = Array.from({ length: count }, (_, i) =>
    ctx.spawn(
      async (c: WorkerContext, n: number) => {
        await c.state.set(`wrote:${n}`, { n, filler: 'x'.repeat(n * 7) })
        return n
      },
      { args: [i], thread: i % 2 === 0, name: `writer-${i}` },
    ),
  )
  const unseen: number[] = []
  await Promise.all(
    handles.map(async (handle) => {
      const n = await handle.wait({ timeout: 120_000 })
      const seen = ctx.state.get(`wrote:${n}`) as { n: number } | undefined
      if (seen?.n !== n) unseen.push(n)
    }),
  )
  assert.deepEqual(unseen, [])
  assert.equal(ctx.state.size, count)
})

void test('process: once map resolves, the parent’s state shows every item’s writes', async (t) => {
  const ctx = await contextFor(t)
  for (let round = 0; round < 3; round++) {
    const items = Array.from({ length: stressFor(200, 2000) }, (_, i) => i)
    const results = await ctx.map(
      async (c: WorkerContext, i: number, _index: number, round: number) => {
        await c.state.set(`m:${round}:${i}`, i * i)
        return i
      },
      items,
      { concurrency: 2, args: [round], thread: round % 2 === 0 },
    )
    assert.deepEqual(results, items)
    const missing = items.filter((i) => ctx.state.get(`m:${round}:${i}`) !== i * i)
    assert.deepEqual(missing, [], `round ${round}`)
  }
})

void test('process: state snapshots cross to children and back as the plain objects they read as', async (t) => {
  const ctx = await contextFor(t)
  await ctx.state.update({ a: 1, b: { c: [2] } })
  const whole = { a: 1, b: { c: [2] } }
  const snapshot = ctx.state.snapshot()
  for (const thread of [false, true]) {
    // As an argument, nested in one, and as the result.
    const echoed = await ctx
      .spawn(
        (c: WorkerContext, given: unknown, nested: unknown) => ({
          given,
          nested,
          theirs: c.state.snapshot(),
        }),
        {
          args: [snapshot, { inside: [snapshot] }],
          thread,
        },
      )
      .wait()
    assert.deepEqual(
      echoed,
      { given: whole, nested: { inside: [whole] }, theirs: whole },
      `thread: ${thread}`,
    )
    // As items, map's args, and each item's result.
    const mapped = await ctx.map(
      (c: WorkerContext, item: unknown, _index: number, extra: unknown) => [item, extra, c.state.snapshot()],
      [snapshot, 5],
      { thread, args: [snapshot], concurrency: 1 },
    )
    assert.deepEqual(
      mapped,
      [
        [whole, whole, whole],
        [5, whole, whole],
      ],
      `thread: ${thread}`,
    )
  }
})

// A context whose own server died cannot go on: its state went with the server, and its private ipc
// dir with it. It used to keep trying to reconnect, every call waiting out its 30 s timeout with a
// message that did not name the server, and a child waiting on the state ran on for ever.
void test('process: a context whose server is killed closes at once, saying so, and stops its children', async (t) => {
  const ctx = await contextFor(t)
  await ctx.state.set('before', 1)
  const waiting = ctx.spawn(
    async (c: WorkerContext) => {
      await c.state.set('started', true)
      return c.state.whenEqual('never', true)
    },
    { name: 'waiting' },
  )
  await ctx.state.whenEqual('started', true)
  const childPid = waiting.pid!
  const { pid } = await ctx.server()
  process.kill(pid, 'SIGKILL')
  const said = new RegExp(`the context's state server \\(pid ${pid}\\) was killed by SIGKILL`)
  const closedWith = await ctx.closed
  assert.match(closedWith?.message ?? '', said)
  for (const error of [await failure(ctx.state.set('after', 2)), await failure(waiting.wait())]) {
    assert.equal(error.code, 'ERR_CLOSED')
    assert.match(error.message, said)
  }
  assert.throws(() => ctx.spawn(() => 1), { code: 'ERR_CLOSED', message: said })
  await allGone([childPid])
  await ctx.close()
})

void test('process: a thread whose event loop is blocked costs its parent a bounded buffer, then catches up', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const gate = new Int32Array(new SharedArrayBuffer(8))
  const child = ctx.spawn(
    async (c: WorkerContext<Record<string, unknown>>, shared: SharedArrayBuffer) => {
      const flags = new Int32Array(shared)
      await c.state.set('blocked', true)
      Atomics.wait(flags, 0, 0) // the thread's event loop stops here until the parent lets it go
      await c.state.sync()
      return [0, 1, 2, 3].map((i) => (c.state.get(`big${i}`) as { n: number } | undefined)?.n)
    },
    { args: [gate.buffer], thread: true },
  )
  await ctx.state.whenTruthy('blocked')
  const before = process.memoryUsage().rss
  // 600 MiB of commits while the thread takes none of them.
  const blob = 'x'.repeat(256 << 10)
  for (let batch = 0; batch < 48; batch++)
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => ctx.state.set(`big${i % 4}`, { n: batch * 50 + i, blob })),
    )
  await ctx.state.sync()
  const grown = process.memoryUsage().rss - before
  Atomics.store(gate, 0, 1)
  Atomics.notify(gate, 0)
  // The last batch's last four writes, as the parent's replica holds them.
  assert.deepEqual(await child.wait(), [2398, 2399, 2396, 2397])
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => (ctx.state.get(`big${i}`) as { n: number }).n),
    [2398, 2399, 2396, 2397],
  )
  assert.ok(grown < 320 << 20, `the parent grew by ${Math.round(grown / 2 ** 20)} MiB`)
})
