import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  createContext,
  isZStateError,
  ProcessExitError,
  RemoteError,
  type WorkerContext,
} from '../lib/index.ts'
import { allGone, alive, contextFor, failure, fixtureUrl } from './process-support.ts'

type Pids = Record<string, number | string | boolean>

void test('process: stop() aborts the child’s ctx.signal first; a cooperative child ends on its own', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(fixtureUrl('worker-cooperative.mjs'), { args: ['coop'] })
  await ctx.state.whenAvailable('pid:coop')
  assert.equal(child.status, 'running')
  await child.stop({ grace: 60_000 })
  assert.equal(await child.wait(), 'stopped cleanly', 'a result reported while stopping still counts')
  assert.equal(child.exitCode, 0)
  await ctx.state.sync()
  assert.equal(ctx.state.get('stopped:coop'), 'ERR_ABORTED')
})

void test('process: stop() then SIGTERM then SIGKILL after the grace period; wait() says it was stopped', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(fixtureUrl('worker-stubborn.mjs'), { args: ['stubborn'] })
  const pid = (await ctx.state.whenAvailable('pid:stubborn')) as number
  await child.stop({ grace: 400 })
  assert.ok(!alive(pid))
  await ctx.state.sync()
  assert.equal(ctx.state.get('sigterm:stubborn'), true, 'SIGTERM came before SIGKILL')
  const error = await failure(child.wait())
  assert.ok(isZStateError(error))
  assert.equal(error.code, 'ERR_ABORTED')
  assert.match(error.message, /was stopped/)
  assert.ok(error.cause instanceof ProcessExitError)
  assert.equal(error.cause.signal, 'SIGKILL')
  assert.equal(child.status, 'failed')
})

void test('process: kill() ends a child at once with SIGKILL, or the signal given; no retry follows', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(fixtureUrl('worker-stubborn.mjs'), { args: ['k1'], retries: 5 })
  await ctx.state.whenAvailable('pid:k1')
  await child.kill()
  const error = await failure(child.wait())
  assert.equal(error.code, 'ERR_ABORTED')
  assert.equal((error.cause as ProcessExitError).signal, 'SIGKILL')
  assert.equal(child.attempts, 1)
  const idle = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['k2'] })
  const pid = (await ctx.state.whenAvailable('pid:k2')) as number
  // A name the OS does not know is refused before anything happens: the child runs on.
  for (const name of ['SIGFOO', 'KILL', 'constructor'])
    await assert.rejects(idle.kill(name as NodeJS.Signals), { code: 'ERR_INVALID_ARGUMENT' })
  assert.equal(idle.status, 'running')
  assert.ok(alive(pid))
  await idle.kill('SIGINT')
  assert.equal(((await failure(idle.wait())).cause as ProcessExitError).signal, 'SIGINT')
})

void test('process: the spawn signal stops the child and wait() rejects with its reason, unchanged', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const controller = new AbortController()
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['sig'], signal: controller.signal })
  const pid = (await ctx.state.whenAvailable('pid:sig')) as number
  const reason = new Error('enough')
  controller.abort(reason)
  assert.equal(await failure(child.wait()), reason)
  assert.ok(!alive(pid))
  const early = ctx.spawn(() => 1, { signal: AbortSignal.abort('never started') })
  assert.equal(await failure(early.wait()), 'never started')
  assert.equal(early.attempts, 0)
  assert.equal(early.pid, undefined)
})

void test('process: wait() takes a timeout and a signal that only stop the waiting', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['w'] })
  const timedOut = await failure(child.wait({ timeout: 1 }))
  assert.equal(timedOut.code, 'ERR_TIMEOUT')
  const reason = new Error('not waiting')
  assert.equal(await failure(child.wait({ signal: AbortSignal.abort(reason) })), reason)
  await ctx.state.set('release', true)
  assert.equal(await child.wait({ timeout: 60_000 }), 'w')
})

void test('process: children lists name, pid, status and attempts; settled ones leave once ctx.wait() hands them over', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const a = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['c1'], name: 'first' })
  const b = ctx.spawn(() => 'done', { name: 'second' })
  assert.deepEqual(
    ctx.children.map((child) => child.name),
    ['first', 'second'],
  )
  assert.equal(await b.wait(), 'done')
  // Its own wait() does not take it off the list: ctx.wait() still covers it.
  assert.deepEqual(
    ctx.children.map((child) => child.name),
    ['first', 'second'],
  )
  assert.equal(ctx.children[1]?.status, 'exited')
  await ctx.state.whenAvailable('pid:c1')
  assert.equal(ctx.children[0]?.status, 'running')
  assert.equal(ctx.children[0]?.pid, ctx.state.get('pid:c1'))
  assert.equal(ctx.children[0]?.attempts, 1)
  await ctx.state.set('release', true)
  await a.wait()
  assert.equal(ctx.children.length, 2)
  assert.deepEqual(await ctx.wait(), [await a.wait(), 'done'])
  assert.deepEqual(ctx.children, [])
  assert.ok(Object.isFrozen(ctx.children))
})

void test('process: stats() gives pid, CPU, memory and age of a live child; a thread’s are its process’s', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['s'] })
  const pid = (await ctx.state.whenAvailable('pid:s')) as number
  const stats = await child.stats()
  assert.equal(stats.pid, pid)
  // The first look measures since the child started, whose start-up took CPU (pidusage alone says 0).
  assert.ok(stats.cpu > 0 && stats.cpu <= 200, `cpu ${stats.cpu}`)
  assert.ok((await child.stats()).cpu >= 0)
  assert.ok(stats.memory > 1 << 20)
  assert.ok(stats.elapsed > 0)
  const thread = ctx.spawn(
    async (c: WorkerContext<Pids>) => {
      await c.state.set('thread', true)
      await c.state.whenTruthy('release')
    },
    { thread: true },
  )
  await ctx.state.whenTruthy('thread')
  const threadStats = await thread.stats()
  assert.equal(threadStats.pid, process.pid)
  assert.ok(threadStats.cpu >= 0 && threadStats.cpu <= 100)
  await ctx.state.set('release', true)
  await Promise.all([child.wait(), thread.wait()])
  assert.equal((await failure(child.stats())).code, 'ERR_CLOSED')
})

void test('process: a thread child is stopped even in a CPU loop, and the process lives on', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const spinning = ctx.spawn(
    async (c: WorkerContext<Pids>) => {
      await c.state.set('spinning', true)
      for (;;);
    },
    { thread: true },
  )
  await ctx.state.whenTruthy('spinning')
  await spinning.stop({ grace: 200 })
  const error = await failure(spinning.wait())
  assert.equal(error.code, 'ERR_ABORTED')
  assert.ok(error.cause instanceof ProcessExitError)
  // Our own sockets still work: terminating the thread did not take the process down.
  assert.equal(typeof (await ctx.state.set('after', true)), 'number')
})

void test('process: ctx.close() stops every child and its own server, and leaves no process behind', async () => {
  const ctx = await createContext<Pids>({ name: 'closing' })
  const serverPid = (await ctx.server()).pid
  ctx.spawn(fixtureUrl('worker-spin.mjs'), { args: ['x1'] })
  ctx.spawn(fixtureUrl('worker-stubborn.mjs'), { args: ['x2'] })
  ctx.spawn(fixtureUrl('worker-nest.mjs'), { args: ['x3'] })
  const running = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['x4'] })
  const mapping = ctx.map(
    async (c: WorkerContext<Pids>, n: number) => {
      await c.state.set(`pid:map${n}`, process.pid)
      await c.state.whenTruthy('never')
    },
    [1, 2],
    { concurrency: 2 },
  )
  const names = ['x1', 'x2', 'x3', 'x3.spin', 'x4', 'map1', 'map2']
  const view = await ctx.state.when((state) => names.every((name) => state.has(`pid:${name}`)))
  const pids = names.map((name) => view[`pid:${name}`] as number)
  const outcomes = [failure(running.wait()), failure(mapping)]
  await ctx.close()
  assert.deepEqual(
    (await Promise.all(outcomes)).map((error: { code: string }) => error.code),
    ['ERR_CLOSED', 'ERR_CLOSED'],
  )
  await allGone([...pids, serverPid])
  assert.throws(
    () => ctx.spawn(() => 1),
    (error: unknown) => isZStateError(error) && error.code === 'ERR_CLOSED',
  )
})

void test('process: RemoteError from a stopped cooperative child is kept as the cause', async (t) => {
  const ctx = await contextFor<Pids>(t)
  const child = ctx.spawn(async (c: WorkerContext<Pids>) => {
    await c.state.set('waiting', true)
    // The parent may have stopped us before the set above resolved here: check, then listen.
    c.signal.throwIfAborted()
    await new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason)))
  })
  await ctx.state.whenTruthy('waiting')
  await child.stop()
  const error = await failure(child.wait())
  assert.equal(error.code, 'ERR_ABORTED')
  assert.ok(error.cause instanceof RemoteError)
  assert.equal(error.cause.remoteCode, 'ERR_ABORTED')
})
