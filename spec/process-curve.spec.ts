// Contexts on a CurveZMQ server (docs/processes.md, docs/security.md): a context that starts its own
// curve server authorizes a key pair of its own, a context given `address` and `curve` joins with
// those keys, and every child (process, thread, map worker, grandchild) joins with the context's
// keys, which reach it over the IPC start message or workerData, never its command line or
// environment. The server's address alone gets nobody in.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import {
  connect,
  createContext,
  generateKeyPair,
  startServer,
  ErrorCode,
  type Server,
  type WorkerContext,
} from '../lib/index.ts'
import { contextFor, failure } from './process-support.ts'

type S = Record<string, unknown>

const serverKeys = generateKeyPair()
const alice = generateKeyPair()
const mallory = generateKeyPair()
const aliceCurve = { serverKey: serverKeys.publicKey, ...alice }
const malloryCurve = { serverKey: serverKeys.publicKey, ...mallory }
const tcp = 'tcp://127.0.0.1:*'

async function curveServer(t: TestContext): Promise<Server> {
  const server = await startServer({
    address: tcp,
    curve: { ...serverKeys, authorizedKeys: [alice.publicKey] },
  })
  t.after(() => server.close())
  return server
}

// What a process's command line and environment show to other local users (`ps e`).
function visible(pid: number): string {
  return ['cmdline', 'environ'].map((file) => readFileSync(`/proc/${pid}/${file}`, 'latin1')).join('\n')
}

async function refusal(address: string, options: Parameters<typeof connect>[1]): Promise<unknown> {
  const error = await failure(connect(address, { ...options, timeout: 60_000 }))
  // ERR_UNAUTHORIZED comes from the handshake: a join that ran into its 60 s timeout is ERR_TIMEOUT.
  return error.code
}

void test('process curve: a context with its own curve server runs process and thread children, and theirs', async (t) => {
  const ctx = await contextFor<S>(t, {
    server: { address: tcp, curve: { ...serverKeys, authorizedKeys: [alice.publicKey] } },
  })
  assert.match(ctx.address, /^tcp:\/\/127\.0\.0\.1:\d+$/)
  await ctx.state.set('greeting', 'hello')
  // Each child reads and writes, and spawns a thread grandchild, which does the same: in a thread,
  // the grandchild's sockets are made by its parent's socket host, itself a proxy.
  const work = async (c: WorkerContext<S>) => {
    await c.state.increment('visits')
    const grandchild = c.spawn(
      async (g: WorkerContext<S>) => {
        await g.state.increment('visits')
        return g.state.get('greeting')
      },
      { thread: true },
    )
    return { greeting: c.state.get('greeting'), grandchild: await grandchild.wait() }
  }
  const results = await Promise.all([ctx.spawn(work).wait(), ctx.spawn(work, { thread: true }).wait()])
  assert.deepEqual(results, [
    { greeting: 'hello', grandchild: 'hello' },
    { greeting: 'hello', grandchild: 'hello' },
  ])
  await ctx.state.sync()
  assert.equal(ctx.state.get('visits'), 4)

  // The context's own key was added to the list: alice's still works, and nobody else gets in.
  const a = await connect(ctx.address, { curve: aliceCurve })
  await a.close()
  assert.equal(await refusal(ctx.address, {}), ErrorCode.UNAUTHORIZED)
  assert.equal(await refusal(ctx.address, { curve: malloryCurve }), ErrorCode.UNAUTHORIZED)
  // The server got its secret key over IPC.
  assert.ok(!visible((await ctx.server()).pid).includes(serverKeys.secretKey))
})

void test("process curve: map workers (processes and threads) join a context's curve server; 'any' stays as is", async (t) => {
  const ctx = await contextFor<S>(t, {
    server: { address: tcp, curve: { ...serverKeys, authorizedKeys: 'any' } },
  })
  const squares = await ctx.map(
    async (c: WorkerContext<S>, n: number) => {
      await c.state.increment('mapped')
      return n * n
    },
    [1, 2, 3, 4, 5],
    { concurrency: 2 },
  )
  assert.deepEqual(squares, [1, 4, 9, 16, 25])
  const cubes = await ctx.map((c: WorkerContext<S>, n: number) => n ** 3, [1, 2, 3], {
    concurrency: 2,
    thread: true,
  })
  assert.deepEqual(cubes, [1, 8, 27])
  await ctx.state.sync()
  assert.equal(ctx.state.get('mapped'), 5)
  // 'any': every key pair is welcome, encrypted.
  const m = await connect(ctx.address, { curve: malloryCurve })
  await m.close()
})

// API.md: a context's own curve server authorizes the context's key pair; without authorizedKeys,
// that is the only one.
void test('process curve: a context whose curve server names no authorizedKeys lets in its own children only', async (t) => {
  const ctx = await contextFor<S>(t, { server: { address: tcp, curve: { ...serverKeys } } })
  assert.equal(await ctx.spawn(async (c: WorkerContext<S>) => c.state.increment('joined')).wait(), 1)
  const refused = await failure(connect(ctx.address, { curve: aliceCurve }))
  assert.equal(refused.code, ErrorCode.UNAUTHORIZED)
})

void test('process curve: a context joins a curve server with given keys; its children get them without a command line or environment', async (t) => {
  const server = await curveServer(t)
  const ctx = await contextFor<S>(t, { address: server.address, curve: aliceCurve })
  // Each child says where it is and holds on until the test has looked at its /proc files.
  const hold = async (c: WorkerContext<S>, label: string) => {
    await c.state.set(`pid/${label}`, process.pid)
    await c.state.when('go', (go) => go === true)
    return `${label} done`
  }
  const child = ctx.spawn(hold, { args: ['spawned'] })
  const mapped = ctx.map(hold, ['mapped'], { concurrency: 1 })
  void mapped.catch(() => {}) // awaited below; a failed assertion before that closes the context
  const thread = ctx.spawn(hold, { args: ['thread'], thread: true })
  const up = ctx.state.when(
    (view) => ['spawned', 'mapped', 'thread'].every((label) => view.has(`pid/${label}`)),
    { signal: t.signal },
  )
  // A child that fails to join ends the wait at once.
  await Promise.race([up, child.wait(), mapped, thread.wait()])
  const pids = ['spawned', 'mapped'].map((label) => ctx.state.get(`pid/${label}`) as number)
  assert.equal(pids[0], child.pid)
  for (const pid of pids) {
    const shown = visible(pid)
    assert.ok(shown.includes(`ZSTATE_ADDRESS=${server.address}`), 'the child has its address')
    assert.ok(!shown.includes(alice.secretKey), `pid ${pid} shows the secret key`)
  }
  await ctx.state.set('go', true)
  assert.deepEqual(await Promise.all([child.wait(), mapped, thread.wait()]), [
    'spawned done',
    ['mapped done'],
    'thread done',
  ])
})

void test('process curve: a context with keys the server does not authorize, or none, fails at once with ERR_UNAUTHORIZED', async (t) => {
  const server = await curveServer(t)
  for (const curve of [malloryCurve, { ...aliceCurve, serverKey: mallory.publicKey }, undefined]) {
    const error = await failure(
      createContext({ address: server.address, ...(curve === undefined ? {} : { curve }) }),
    )
    assert.equal(error.code, ErrorCode.UNAUTHORIZED, String(error))
  }
  const invalid = [
    { address: server.address, curve: { ...aliceCurve, secretKey: 'short' } },
    { address: server.address, curve: 'keys' },
    { curve: aliceCurve },
    { server: { address: tcp }, curve: aliceCurve },
  ]
  for (const options of invalid) {
    const error = await failure(createContext(options as never))
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT, String(error))
    assert.match(error.message, /curve/)
  }
})

void test('process curve: in a thread child, a refused handshake fails connect() at once too', async (t) => {
  const server = await curveServer(t)
  const ctx = await contextFor<S>(t, { address: server.address, curve: aliceCurve })
  // The thread's sockets live in the parent thread: the handshake's failure must reach it from there.
  const code = await ctx
    .spawn(
      async (c: WorkerContext<S>, index: string, address: string, curve: object) => {
        const zstate = (await import(index)) as { connect: typeof connect }
        try {
          await zstate.connect(address, { curve: curve as never, timeout: 60_000 })
          return 'joined'
        } catch (error) {
          return (error as { code?: string }).code
        }
      },
      {
        args: [new URL('../lib/index.ts', import.meta.url).href, server.address, malloryCurve],
        thread: true,
      },
    )
    .wait()
  assert.equal(code, ErrorCode.UNAUTHORIZED)
})
