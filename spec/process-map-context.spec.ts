// map() workers, and spawned functions, whose target never reads its ctx run without zstate's client:
// nothing of it is loaded (once built) and no session is joined, which is most of a cold child's
// start. Targets that read it get a context as before.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { builtContext, contextFor, fixtureUrl, marks, until } from './process-support.ts'
import { tempDir } from './support.ts'
import type { WorkerContext } from '../lib/index.ts'

// Two workers each hold an item until the server's sessions have been counted.
async function sessionsWhileRunning(t: TestContext, target: URL): Promise<{ added: number; pids: number[] }> {
  const ctx = await contextFor(t)
  const dir = tempDir(t)
  const before = (await ctx.server()).clients
  const mapping = ctx.map<string, number>(target, [dir, dir], { concurrency: 2 })
  await until(() => marks(dir, 'started-') === 2, 'both workers run an item')
  const during = (await ctx.server()).clients
  writeFileSync(join(dir, 'release'), '')
  return { added: during - before, pids: await mapping }
}

void test('map: workers whose target never reads its ctx join no session; those whose target does, join', async (t) => {
  const free = await sessionsWhileRunning(t, fixtureUrl('worker-held.mjs'))
  assert.equal(free.added, 0, 'no session of a worker')
  assert.equal(new Set(free.pids).size, 2, 'two workers ran')
  const reading = await sessionsWhileRunning(t, fixtureUrl('worker-held-ctx.mjs'))
  assert.equal(reading.added, 2, 'a session per worker')
})

// A spawned function holds until the parent has counted the server's sessions: it marks the file
// `dir/started` (node:fs through process.getBuiltinModule: a function target has no imports) and waits
// for `dir/release`.
void test('spawn: a function that never reads its ctx runs without a session; one that reads it joins', async (t) => {
  const ctx = await contextFor(t)
  const dir = tempDir(t)
  const before = (await ctx.server()).clients
  const held = async (prefix: string, run: () => Promise<unknown>) => {
    await until(() => marks(dir, prefix) === 1, `${prefix} runs`)
    const during = (await ctx.server()).clients
    writeFileSync(join(dir, `${prefix}release`), '')
    return [during - before, await run()]
  }
  const free = ctx.spawn(
    async (_ctx: unknown, where: string, n: number) => {
      const fs = process.getBuiltinModule('node:fs')
      fs.writeFileSync(`${where}/free-started`, '')
      while (!fs.existsSync(`${where}/free-release`)) await new Promise((resolve) => setTimeout(resolve, 5))
      return n * 2
    },
    { args: [dir, 21] },
  )
  assert.deepEqual(await held('free-', () => free.wait()), [0, 42])
  const reading = ctx.spawn(
    async (c: WorkerContext, where: string) => {
      const fs = process.getBuiltinModule('node:fs')
      fs.writeFileSync(`${where}/reading-started`, '')
      while (!fs.existsSync(`${where}/reading-release`))
        await new Promise((resolve) => setTimeout(resolve, 5))
      return c.name
    },
    { args: [dir], name: 'reader' },
  )
  assert.deepEqual(await held('reading-', () => reading.wait()), [1, 'reader'])
})

// Without a ctx it cannot see that it was stopped: the child ends as soon as it is told, rather than
// at the SIGTERM that follows half the grace later.
void test('spawn: stopping a function that never reads its ctx ends its child at once', async (t) => {
  const ctx = await contextFor(t)
  const forever = ctx.spawn((_ctx: unknown) => new Promise(() => {}))
  await until(() => forever.status === 'running', 'it runs')
  await forever.stop({ grace: 600_000 })
  assert.equal(forever.exitCode, 1, 'it exited by itself, not by a signal')
  await assert.rejects(forever.wait(), { code: 'ERR_ABORTED' })
})

void test('map: once built, a worker whose target never reads its ctx loads none of zstate’s client, unless pooled', async (t) => {
  const ctx = await builtContext(t, { name: 'built map' })
  const free = await ctx.map<number, boolean>(fixtureUrl('worker-client-loaded.mjs'), [1, 2], {
    concurrency: 2,
  })
  assert.deepEqual(free, [false, false])
  await ctx.state.set('k', 1)
  const reading = await ctx.map<number, [boolean, number]>(
    fixtureUrl('worker-client-loaded-ctx.mjs'),
    [1, 2],
    {
      concurrency: 2,
    },
  )
  assert.deepEqual(reading, [
    [true, 1],
    [true, 1],
  ])
  // A warm pool's children load it ahead, whatever job comes.
  const pooled = await builtContext(t, { name: 'built pool', pool: { size: 1 } })
  await (pooled as unknown as { warmPool: { ready(): Promise<void> } }).warmPool.ready()
  assert.deepEqual(await pooled.map(fixtureUrl('worker-client-loaded.mjs'), [1], { concurrency: 1 }), [true])
})

void test('map: once built, a CommonJS module compiled from export default is a target, for spawn and map', async (t) => {
  const ctx = await builtContext(t, { name: 'built transpiled' })
  // Node without tsx (execArgv: []) imports a CommonJS module compiled from `export default` as its
  // exports object: the function is its default.
  const transpiled = fixtureUrl('worker-transpiled.cjs')
  assert.equal(await ctx.spawn(transpiled, { args: [1], execArgv: [] }).wait(), '1:transpiled')
  assert.deepEqual(await ctx.map(transpiled, [2, 3], { execArgv: [] }), ['2:transpiled', '3:transpiled'])
})

void test('map: a worker told to end before its runtime listens still ends (the message is held for it)', async (t) => {
  const ctx = await contextFor(t)
  const marker = join(tempDir(t), 'first')
  const target = new URL(`${fixtureUrl('worker-late-load.mjs').href}?marker=${encodeURIComponent(marker)}`)
  // Not the map's signal: an abort once the results are in only stops the worker that never ended.
  const mapped = ctx.map(target, [1, 2, 3, 4], { concurrency: 2 })
  const outcome = await Promise.race([mapped, sleep(30_000, 'timed out', { ref: false })])
  assert.deepEqual(outcome, [2, 4, 6, 8])
})

void test('map: a worker stopped while it loads its target ends by itself once loaded, without being killed', async (t) => {
  const ctx = await contextFor(t)
  const dir = tempDir(t)
  const target = new URL(`${fixtureUrl('worker-slow-load.mjs').href}?dir=${encodeURIComponent(dir)}`)
  const controller = new AbortController()
  const mapped = ctx.map(target, [1, 2, 3, 4], { concurrency: 2, signal: controller.signal })
  await until(() => marks(dir, 'loading-') === 2, 'both workers load the target')
  // The abort reaches them before their runtime listens: it is held for it, not lost.
  controller.abort(new Error('enough'))
  writeFileSync(join(dir, 'go'), '')
  await assert.rejects(mapped, /enough/)
  // Both exited by themselves (they ignore SIGTERM; a SIGKILL, after 1 s, would leave no mark).
  assert.equal(marks(dir, 'exited-'), 2)
})
