// Node fires a timer set beyond 2^31 − 1 ms (about 24.8 days) after 1 ms, and AbortSignal.timeout()
// throws on Infinity: a timeout that long must wait without a limit, never end at once; a delay that
// must end is refused beyond it.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  connect,
  isZStateError,
  startServer,
  type Client,
  type ConnectOptions,
  type WorkerContext,
} from '../lib/index.ts'
import { contextFor, failure } from './process-support.ts'
import { clientFor, pair, serverFor, tempDir } from './support.ts'

const LONG = [2 ** 31, 30 * 24 * 3600 * 1000, Infinity]

const invalid = (error: unknown): boolean => isZStateError(error) && error.code === 'ERR_INVALID_ARGUMENT'

void test('timeouts beyond 2^31 − 1 ms wait without a limit: when, call, server(), connect', async (t) => {
  const server = await serverFor(t, 'ipc')
  const [writer, reader] = [await clientFor(server), await clientFor(server)]
  await writer.provide('math', { add: (a: number, b: number) => a + b })
  for (const [i, timeout] of LONG.entries()) {
    const waiting = reader.state.when(`k${i}`, (v) => v === 1, { timeout })
    // The round trips below take longer than the 1 ms such a timer would have lasted.
    assert.equal(await reader.call('math', 'add', [i, 1], { timeout }), i + 1)
    assert.equal((await reader.server({ timeout })).pid, process.pid)
    await writer.state.set(`k${i}`, 1)
    assert.equal(await waiting, 1)
    const joined = await connect(server.address, { timeout })
    await joined.close()
  }
})

void test('a child’s wait() with a timeout beyond 2^31 − 1 ms waits for the result', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const child = ctx.spawn(async (c: WorkerContext<Record<string, unknown>>) => {
    await c.state.when('go', (go) => go === true)
    return 'done'
  })
  const waits = LONG.map((timeout) => child.wait({ timeout }))
  const all = ctx.wait({ timeout: 2 ** 31 })
  await ctx.state.set('go', true)
  assert.deepEqual(await Promise.all(waits), ['done', 'done', 'done'])
  assert.deepEqual(await all, ['done'])
})

void test('stop grace and pool idleTimeout take Infinity for never; delays beyond 2^31 − 1 ms are refused', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  const child = ctx.spawn(async (c: WorkerContext<Record<string, unknown>>) => {
    await c.state.set('started', true)
    // The abort may come before this line runs: then no abort event is left to wait for.
    if (!c.signal.aborted) await new Promise((resolve) => c.signal.addEventListener('abort', resolve))
    return 'stopped politely'
  })
  await ctx.state.when('started', (started) => started === true)
  await assert.rejects(child.stop({ grace: 2 ** 32 }), invalid)
  // Never forced: the child answers its aborted signal and reports (a SIGKILL at 1 ms would not let it).
  await child.stop({ grace: Infinity })
  assert.equal(await child.wait(), 'stopped politely')
  assert.throws(() => ctx.spawn(() => 0, { retries: 1, retryDelay: 2 ** 31 }), invalid)
  await assert.rejects(contextFor(t, { pool: { size: 1, idleTimeout: 2 ** 31 } }), invalid)
  const pooled = await contextFor(t, { pool: { size: 1, idleTimeout: Infinity } })
  assert.equal(await pooled.spawn(() => 'warm').wait(), 'warm')
})

void test('a state wait with timeout Infinity is armed with no timer at all', async (t) => {
  const [a, b] = await pair(t)
  const waiting = b.state.when('x', (v) => v === 2, { timeout: Infinity })
  await a.state.set('x', 1)
  await a.state.set('x', 2)
  assert.equal(await waiting, 2)
  const aborted = new AbortController()
  const pending = b.state.when('never', () => false, { timeout: Infinity, signal: aborted.signal })
  aborted.abort(new Error('gave up'))
  assert.equal((await failure(pending)).message, 'gave up')
})

void test('a client whose heartbeatTimeout or requestTimeout is a fraction or beyond 2^31 − 1 ms rejoins a restarted server', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  let server = await startServer({ address })
  t.after(() => server.close())
  const joined = (options: ConnectOptions): Promise<Client> => connect(address, options)
  const silent = await Promise.all([...LONG, 2000.5].map((ms) => joined({ heartbeatTimeout: ms })))
  const patient = await Promise.all(
    [...LONG, 2000.5].map((ms) => joined({ requestTimeout: ms, timeout: 1000.5 })),
  )
  const clients = [...silent, ...patient]
  t.after(() => Promise.all(clients.map((client) => client.close())))
  const events = new Map(clients.map((client) => [client, client.status()[Symbol.asyncIterator]()]))
  const next = async (client: Client): Promise<unknown> => (await events.get(client)!.next()).value?.type
  // A closed server says nothing: clients with the default heartbeats notice its silence.
  await server.close()
  for (const client of patient) assert.equal(await next(client), 'disconnected')
  // Made while the server is away: each waits for the next server within its request timeout.
  const writes = patient.map((client, i) => client.state.set(`k${i}`, i))
  server = await startServer({ address })
  assert.deepEqual((await Promise.all(writes)).sort(), [1, 2, 3, 4])
  for (const client of patient) assert.equal(await next(client), 'reset')
  // Those that never count silence as a loss learn of the new server from its heartbeats.
  for (const client of silent) {
    assert.equal(await next(client), 'disconnected')
    assert.equal(await next(client), 'reset')
  }
  await Promise.all(silent.map((client) => client.state.set('k', 1)))
})

void test('heartbeatMs beyond 2^31 − 1 ms is refused; a null retryDelay is refused as other delays are', async (t) => {
  await assert.rejects(startServer({ address: 'tcp://127.0.0.1:*', heartbeatMs: 2 ** 31 }), invalid)
  const ctx = await contextFor<Record<string, unknown>>(t)
  assert.throws(() => ctx.spawn(() => 0, { retries: 1, retryDelay: null as unknown as number }), invalid)
})
