// map when things go wrong: workers killed or crashed by an item, items that throw or cannot be
// cloned, aborts; and map in worker threads, breaking out of mapUnordered, slow items.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ProcessExitError, RemoteError, type WorkerContext } from '../lib/index.ts'
import { alive, allGone, contextFor, failure, stressFor } from './process-support.ts'

type Shared = Record<string, unknown>

// Every pid a map worker recorded (each records itself once, under `worker:PID`).
function workerPids(state: { keys(): IterableIterator<string> }): number[] {
  return [...state.keys()].filter((key) => key.startsWith('worker:')).map((key) => Number(key.slice(7)))
}

void test('process: a worker killed mid-run has its items re-dispatched; every result arrives exactly once', async (t) => {
  const ctx = await contextFor<Shared>(t)
  const items = Array.from({ length: stressFor(40, 20_000) }, (_, i) => i)
  const mapping = ctx.map(
    async (c: WorkerContext<Shared>, n: number) => {
      const key = `worker:${process.pid}`
      if (!c.state.has(key)) await c.state.set(key, true)
      await c.state.increment(`runs:${n}`)
      if (n === 17 && !c.state.has('victim')) {
        await c.state.set('victim', process.pid)
        await c.state.whenTruthy('never') // killed while here
      }
      return n * 2
    },
    items,
    { concurrency: 2 },
  )
  const victim = (await ctx.state.whenAvailable('victim')) as number
  process.kill(victim, 'SIGKILL')
  assert.deepEqual(
    await mapping,
    items.map((n) => n * 2),
  )
  await ctx.state.sync()
  for (const n of items) assert.ok((ctx.state.get(`runs:${n}`) as number) >= 1, `item ${n} ran`)
  assert.equal(ctx.state.get('runs:17'), 2, 'the item in flight ran again, in another worker')
  await allGone(workerPids(ctx.state))
})

void test('process: an item that kills three workers fails the map with ProcessExitError, its index included', async (t) => {
  const ctx = await contextFor<Shared>(t)
  const error = await failure(
    ctx.map(
      async (c: WorkerContext<Shared>, n: number) => {
        const key = `worker:${process.pid}`
        if (!c.state.has(key)) await c.state.set(key, true)
        if (n === 5) process.exit(9)
        return n
      },
      Array.from({ length: 12 }, (_, i) => i),
      { concurrency: 2 },
    ),
  )
  assert.ok(error instanceof ProcessExitError)
  assert.equal(error.exitCode, 9)
  assert.equal(error.index, 5)
  await ctx.state.sync()
  await allGone(workerPids(ctx.state))
})

void test('process: an item that throws is retried, then fails the map with its RemoteError; the pool stops', async (t) => {
  const ctx = await contextFor<Shared>(t)
  const flaky = async (c: WorkerContext<Shared>, n: number) => {
    const key = `worker:${process.pid}`
    if (!c.state.has(key)) await c.state.set(key, true)
    if (n === 3 && (await c.state.increment('tries:3')) <= 2) throw new Error(`item ${n} failed`)
    if (n === 7) throw Object.assign(new TypeError('always'), { code: 'E_ITEM' })
    return n
  }
  const items = [0, 1, 2, 3, 4, 5, 6]
  assert.deepEqual(await ctx.map(flaky, items, { retries: 2, concurrency: 2 }), items)
  const error = await failure(ctx.map(flaky, [...items, 7, 8, 9], { retries: 1, concurrency: 2 }))
  assert.ok(error instanceof RemoteError)
  assert.equal(error.message, 'always')
  assert.equal(error.remoteName, 'TypeError')
  assert.equal(error.remoteCode, 'E_ITEM')
  assert.equal(error.index, 7)
  await ctx.state.sync()
  await allGone(workerPids(ctx.state))
})

void test('process: an item that cannot be cloned fails the map with ERR_UNENCODABLE naming it', async (t) => {
  const ctx = await contextFor(t)
  for (const thread of [false, true]) {
    const error = await failure(ctx.map(() => 1, [1, 2, () => 3, 4], { thread, concurrency: 1 }))
    assert.equal(error.code, 'ERR_UNENCODABLE')
    assert.match(error.message, /\(item 2\)/)
  }
})

void test('process: aborting a map stops every worker promptly, with the signal’s reason', async (t) => {
  const ctx = await contextFor<Shared>(t)
  const controller = new AbortController()
  const mapping = ctx.map(
    async (c: WorkerContext<Shared>) => {
      await c.state.set(`worker:${process.pid}`, true)
      for (;;); // busy: only a kill ends it
    },
    [1, 2, 3, 4],
    { concurrency: 2, signal: controller.signal },
  )
  await ctx.state.when((state) => workerPids(state).length === 2)
  controller.abort('stop now')
  assert.equal(await failure(mapping), 'stop now')
  await allGone(workerPids(ctx.state))
})

void test('process: map runs in worker threads with thread: true', async (t) => {
  const ctx = await contextFor(t)
  const results = await ctx.map(
    async (_c: WorkerContext, x: number) => {
      const { isMainThread } = await import('node:worker_threads')
      return isMainThread ? -1 : x + 1
    },
    new Set([1, 2, 3, 4, 5]),
    { concurrency: 2, thread: true },
  )
  assert.deepEqual(results, [2, 3, 4, 5, 6])
})

void test('map: break out of mapUnordered ends the loop once its workers are gone', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const stream = ctx.mapUnordered(
    async (c: WorkerContext<Record<string, unknown>>, n: number) => {
      await c.state.set(`worker/${process.pid}`, true)
      if (n === 0) return n
      return new Promise(() => {}) // busy until stopped
    },
    [0, 1, 2, 3],
    { concurrency: 2 },
  )
  for await (const { index } of stream) {
    assert.equal(index, 0)
    break
  }
  const pids = [...ctx.state.keys()]
    .filter((key) => key.startsWith('worker/'))
    .map((key) => Number(key.slice(7)))
  assert.ok(pids.length > 0)
  assert.deepEqual(
    pids.filter((pid) => alive(pid)),
    [],
    'no worker is left once the loop has ended',
  )
})

// Item 0 waits until the parent has every other result: a batch queued behind it on its worker can
// only come out if the idle worker takes it back (before, the map waited for item 0 with it).
void test('map: a slow item never holds up the batches queued behind it while another worker is idle', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const count = 400
  for (const thread of [false, true]) {
    const release = `release/${thread}`
    const stream = ctx.mapUnordered(
      async (c: WorkerContext<Record<string, unknown>>, n: number, _i: number, key: string) => {
        if (n === 0) await c.state.whenAvailable(key)
        return n
      },
      Array.from({ length: count }, (_, n) => n),
      { concurrency: 2, thread, args: [release] },
    )
    const seen: number[] = []
    const others = (async () => {
      for await (const { value } of stream) {
        seen.push(value)
        if (seen.length === count - 1) await ctx.state.set(release, true)
      }
    })()
    const bound = setTimeout(() => void stream.return?.(), 30_000)
    await others
    clearTimeout(bound)
    assert.equal(seen.length, count, `${thread ? 'thread' : 'process'}: ${seen.length} of ${count} results`)
    assert.equal(seen.at(-1), 0, 'item 0 last, once released')
  }
})
