import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ProcessExitError, RemoteError, type WorkerContext } from '../lib/index.ts'
import { contextFor, failure, fixtureUrl } from './process-support.ts'

type Flaky = Record<string, number | number[]>

void test('process: retries start a fresh process per attempt until one succeeds; attempts counts them', async (t) => {
  const ctx = await contextFor<Flaky>(t)
  const child = ctx.spawn<number>(fixtureUrl('worker-flaky.mjs'), { args: ['a', 2], retries: 3 })
  assert.equal(await child.wait(), 3)
  assert.equal(child.attempts, 3)
  assert.equal(child.status, 'exited')
  await ctx.state.sync()
  const pids = ctx.state.get('pids:a') as number[]
  assert.equal(pids.length, 3)
  assert.equal(new Set(pids).size, 3, 'every attempt is a new process')
  assert.equal(pids.at(-1), child.pid)
})

void test('process: when retries run out, wait() rejects with the last failure', async (t) => {
  const ctx = await contextFor<Flaky>(t)
  const thrown = ctx.spawn(fixtureUrl('worker-flaky.mjs'), { args: ['b', 5], retries: 1 })
  const error = await failure(thrown.wait())
  assert.ok(error instanceof RemoteError)
  assert.equal(error.message, 'attempt 2 failed')
  assert.equal(thrown.attempts, 2)
  assert.equal(thrown.status, 'failed')
  const exited = ctx.spawn(fixtureUrl('worker-flaky.mjs'), { args: ['c', 5, 'exit'], retries: 2 })
  const exit = await failure(exited.wait())
  assert.ok(exit instanceof ProcessExitError)
  assert.equal(exit.exitCode, 7)
  assert.equal(exited.attempts, 3)
})

void test('process: retryOn picks the failures worth retrying; retryDelay gets the attempt and the error', async (t) => {
  const ctx = await contextFor<Flaky>(t)
  const seen: Error[] = []
  const onlyExits = ctx.spawn(fixtureUrl('worker-flaky.mjs'), {
    args: ['d', 5],
    retries: 4,
    retryOn: (error) => {
      seen.push(error)
      return error instanceof ProcessExitError
    },
  })
  await failure(onlyExits.wait())
  assert.equal(onlyExits.attempts, 1, 'a thrown error is not retried')
  assert.equal(seen.length, 1)
  assert.ok(seen[0] instanceof RemoteError)

  const delays: [number, string][] = []
  const delayed = ctx.spawn<number>(fixtureUrl('worker-flaky.mjs'), {
    args: ['e', 2],
    retries: 2,
    retryDelay: (attempt, error) => {
      delays.push([attempt, error.message])
      return 10
    },
  })
  assert.equal(await delayed.wait(), 3)
  assert.deepEqual(delays, [
    [1, 'attempt 1 failed'],
    [2, 'attempt 2 failed'],
  ])
})

void test('process: thread children retry the same way', async (t) => {
  const ctx = await contextFor<Flaky>(t)
  const child = ctx.spawn<number>(fixtureUrl('worker-flaky.mjs'), {
    args: ['f', 1],
    retries: 1,
    thread: true,
  })
  assert.equal(await child.wait(), 2)
  assert.equal(child.attempts, 2)
})

void test('process: while a retry runs, exitCode is null and status says so; the failed attempt’s code shows until then', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const child = ctx.spawn(
    async (c: WorkerContext<Record<string, unknown>>) => {
      if ((await c.state.increment('attempt')) === 1) process.exit(3)
      await c.state.set('second running', true)
      await c.state.when('go', (go) => go === true)
      return 'ok'
    },
    { retries: 1 },
  )
  await ctx.state.when('second running', (running) => running === true)
  assert.equal(child.attempts, 2)
  assert.equal(child.status, 'running')
  assert.equal(child.exitCode, null, 'the running attempt has no exit code yet')
  await ctx.state.set('go', true)
  assert.equal(await child.wait(), 'ok')
  assert.equal(child.exitCode, 0)
})
