// CurveZMQ (docs/security.md): an authorized client works over tcp with every socket encrypted; any
// other client (another key, no curve, a wrong server key) is refused at once with ERR_UNAUTHORIZED
// and never gets a session; nothing of a value crosses the wire in clear.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import {
  connect,
  generateKeyPair,
  startServer,
  ErrorCode,
  ZStateError,
  type Client,
  type ConnectOptions,
  type Server,
  type ServerOptions,
} from '../lib/index.ts'
import { Dealer } from 'zeromq'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { failure, until } from './process-support.ts'
import { clientFor, serverFor } from './support.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { unlessRefused } from '../lib/link/handshake.ts'

const serverKeys = generateKeyPair()
const alice = generateKeyPair()
const mallory = generateKeyPair()
const aliceCurve = { serverKey: serverKeys.publicKey, ...alice }

// On tcp://127.0.0.1:*; its clients from clientFor close before it when the test ends.
function curveServer(t: TestContext, authorizedKeys: string[] | 'any' = [alice.publicKey]): Promise<Server> {
  return serverFor(t, 'tcp', { curve: { ...serverKeys, authorizedKeys } })
}

void test('curve: an authorized client reads, writes, calls and subscribes over tcp', async (t) => {
  const server = await curveServer(t)
  const a = await clientFor(server, { curve: aliceCurve })
  const b = await clientFor(server, { curve: aliceCurve })
  await a.state.set('k', { v: 1 })
  await b.state.when('k', (value) => value !== undefined)
  assert.deepEqual(b.state.get('k'), { v: 1 })
  const provider = await a.provide('math', { add: (x: number, y: number) => x + y })
  t.after(() => provider.close())
  assert.equal(await b.call('math', 'add', [2, 3]), 5)
  const sub = b.subscribe('news/')
  t.after(() => sub.close())
  await sub.ready
  await a.publish('news/1', 'hello')
  for await (const message of sub) {
    assert.deepEqual(message, { topic: 'news/1', message: 'hello' })
    break
  }
})

void test('curve: another key, no curve and a wrong server key are refused at once, with no session', async (t) => {
  const server = await curveServer(t)
  const a = await clientFor(server, { curve: aliceCurve })
  const attempts: [string, ConnectOptions][] = [
    ['another key', { curve: { serverKey: serverKeys.publicKey, ...mallory } }],
    ['no curve', {}],
    ['a wrong server key', { curve: { serverKey: mallory.publicKey, ...alice } }],
  ]
  for (const [what, options] of attempts) {
    const started = Date.now()
    const error = await failure(connect(server.address, { ...options, timeout: 60_000 }))
    assert.equal(error.code, ErrorCode.UNAUTHORIZED, `${what}: ${String(error)}`)
    // At once: a handshake, not the 60 s join timeout.
    assert.ok(Date.now() - started < 30_000, `${what} failed after ${Date.now() - started} ms`)
  }
  assert.equal((await a.server()).clients, 1)
})

// From an outside audit: a curve server that dies mid-handshake breaks it off just as one given a
// wrong server key does, and the join ended at once with ERR_UNAUTHORIZED, right keys and all. A
// handshake broken off once is now tried again; again and again, it is the refusal it looks like.
void test('curve: a server that broke off the handshake (it died) and came back is joined; one that keeps breaking it off is a refusal', async (t) => {
  // A peer on the port that drops the first connection, as a server dying mid-handshake does.
  const dying = createServer((socket) => {
    socket.destroy()
    dying.close()
  })
  await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve))
  const closed = new Promise((resolve) => dying.once('close', resolve))
  const address = `tcp://127.0.0.1:${(dying.address() as AddressInfo).port}`
  const joining = connect(address, { curve: aliceCurve, timeout: 10_000 })
  // A join that fails meanwhile fails the test at once.
  await Promise.race([closed, joining.then(() => assert.fail('joined a peer that is no server'))])
  const restarted = await startServer({
    address,
    curve: { ...serverKeys, authorizedKeys: [alice.publicKey] },
  })
  // Its client first: a client closed after its server waits for its goodbye's reply.
  t.after(async () => {
    await joining.then(
      (client) => client.close(),
      () => {},
    )
    await restarted.close()
  })
  const client = await joining
  await client.state.set('k', 'joined after the handshake was broken off')
  // A server given another server key breaks off every handshake: refused, after a few tries.
  const server = await curveServer(t)
  const error = await failure(
    connect(server.address, { curve: { ...aliceCurve, serverKey: mallory.publicKey }, timeout: 60_000 }),
  )
  assert.equal(error.code, ErrorCode.UNAUTHORIZED)
})

// Several addresses: a join that every one of them refuses ends with the refusal, not at its timeout
// as "no answer"; one that also has an address that does not answer names the refusal as it times out.
void test('curve: a join that every address refuses is refused at once; with a silent address too, its timeout names the refusal', async (t) => {
  const [a, b] = [await curveServer(t), await curveServer(t)]
  const mallorysCurve = { serverKey: serverKeys.publicKey, ...mallory }
  const started = Date.now()
  const refused = await failure(connect([a.address, b.address], { curve: mallorysCurve, timeout: 60_000 }))
  assert.equal(refused.code, ErrorCode.UNAUTHORIZED, String(refused))
  assert.ok(Date.now() - started < 30_000, `refused after ${Date.now() - started} ms`)
  // A wrong serverKey everywhere: three broken-off handshakes each, at the shortest pause (backing
  // off, as from a silent server, 5 addresses took over 10 s, and the join timed out instead).
  const servers = [a, b, ...(await Promise.all([0, 1, 2].map(() => curveServer(t))))]
  const wrongKey = await failure(
    connect(
      servers.map((server) => server.address),
      { curve: { ...aliceCurve, serverKey: mallory.publicKey }, timeout: 8_000 },
    ),
  )
  assert.equal(wrongKey.code, ErrorCode.UNAUTHORIZED, String(wrongKey))
  // Nobody listens at the first: it never answers.
  const silent = await failure(
    connect(['tcp://127.0.0.1:9', a.address], { curve: mallorysCurve, timeout: 2_500 }),
  )
  assert.equal(silent.code, ErrorCode.TIMEOUT)
  assert.match(silent.message, /let this client join within 2500 ms; the last refused it: .*not authorized/)
})

// libzmq tears a refused connection down before the monitor event that says why is read: a join
// whose HELLO send failed then must still report the refusal (a CLI run once printed the send failure).
void test('curve: a refusal reported just after a send failed wins over the send failure', async () => {
  const sendFailed = (): Promise<never> =>
    Promise.reject(new ZStateError(ErrorCode.DISCONNECTED, 'send failed: Operation was not possible'))
  const refusedSoon = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new ZStateError(ErrorCode.UNAUTHORIZED, 'not authorized')), 20),
  )
  assert.equal((await failure(unlessRefused(sendFailed(), refusedSoon))).code, ErrorCode.UNAUTHORIZED)
  // With no verdict, the send failure itself, after the grace.
  const never = new Promise<never>(() => {})
  assert.equal((await failure(unlessRefused(sendFailed(), never))).code, ErrorCode.DISCONNECTED)
  // Other failures are not held back.
  const timedOut = Promise.reject(new ZStateError(ErrorCode.TIMEOUT, 'no answer'))
  const started = Date.now()
  assert.equal((await failure(unlessRefused(timedOut, never))).code, ErrorCode.TIMEOUT)
  assert.ok(Date.now() - started < 150, `a timeout was held back ${Date.now() - started} ms`)
})

void test('curve: a key taken off the list is refused once the server restarts with the new list', async (t) => {
  const first = await startServer({
    address: 'tcp://127.0.0.1:*',
    curve: { ...serverKeys, authorizedKeys: [alice.publicKey] },
  })
  const a = await connect(first.address, { curve: aliceCurve })
  await a.close()
  await first.close()
  const second = await curveServer(t, [mallory.publicKey])
  const error = await failure(connect(second.address, { curve: aliceCurve }))
  assert.equal(error.code, ErrorCode.UNAUTHORIZED)
  await clientFor(second, { curve: { serverKey: serverKeys.publicKey, ...mallory } })
})

// A connected client whose key the restarted server no longer authorizes keeps trying in the
// background; a request that waited for it in vain says why.
void test('curve: a connected client whose key was taken off the list waits, and its timeout names the refusal', async (t) => {
  const first = await startServer({
    address: 'tcp://127.0.0.1:*',
    curve: { ...serverKeys, authorizedKeys: [alice.publicKey] },
  })
  const a = await connect(first.address, { curve: aliceCurve, requestTimeout: 1500 })
  t.after(() => a.close())
  await a.state.set('k', 1)
  await first.close()
  const second = await startServer({
    address: first.address,
    curve: { ...serverKeys, authorizedKeys: [mallory.publicKey] },
  })
  t.after(() => second.close())
  // The first request may meet the lost link (ERR_DISCONNECTED), which then says why it was lost (not
  // libzmq's bare "Operation was not possible"); the next one waits for a link.
  let error = await failure(a.state.set('k', 2))
  if (error.code === ErrorCode.DISCONNECTED) {
    assert.match(
      error.message,
      /^lost the connection: tcp:\/\/127\.0\.0\.1:\d+ refused this client: its public key is not authorized \(on reconnecting\)/,
    )
    error = await failure(a.state.set('k', 2))
  }
  assert.equal(error.code, ErrorCode.TIMEOUT)
  assert.match(
    error.message,
    /while reconnecting \(.*refused this client: its public key is not authorized\)/,
  )
})

// Whatever bounds a request (the client's requestTimeout, its own timeout, a call's), its timeout while
// the client is refused names the refusal and has it as its cause (the old code named it only for
// requests bounded by requestTimeout).
void test('curve: while the client is refused, every request that times out names the refusal, whatever bounds it', async (t) => {
  const first = await startServer({
    address: 'tcp://127.0.0.1:*',
    heartbeatMs: 50,
    curve: { ...serverKeys, authorizedKeys: [alice.publicKey] },
  })
  const a = await connect(first.address, { curve: aliceCurve, requestTimeout: 1500 })
  t.after(() => a.close())
  const events = a.status()[Symbol.asyncIterator]()
  await first.close()
  assert.equal((await events.next()).value?.type, 'disconnected')
  const second = await startServer({
    address: first.address,
    curve: { ...serverKeys, authorizedKeys: [mallory.publicKey] },
  })
  t.after(() => second.close())
  const refusal = /^tcp:\/\/127\.0\.0\.1:\d+ refused this client: its public key is not authorized$/
  // Bounded by requestTimeout: named once the client has been refused (as on the old code).
  await until(
    async () => (await failure(a.state.set('k', 1))).cause?.code === ErrorCode.UNAUTHORIZED,
    'a request times out naming the refusal',
    10_000,
  )
  const timeout = 300
  const requests: [string, () => Promise<unknown>][] = [
    ['set()', () => a.state.set('k', 2, { timeout })],
    ['delete()', () => a.state.delete('k', { timeout })],
    ['sync()', () => a.state.sync({ timeout })],
    ['server()', () => a.server({ timeout })],
    ['services()', () => a.services({ timeout })],
    ['call svc.m', () => a.call('svc', 'm', [], { timeout })],
    ["waitForService('svc')", () => a.waitForService('svc', { timeout })],
    ["provide('svc')", () => a.provide('svc', { m: () => 1 }, { timeout })],
    ["publish 'topic'", () => a.publish('topic', 1, { timeout })],
  ]
  await Promise.all(
    requests.map(async ([what, request]) => {
      const error = await failure(request())
      assert.equal(error.code, ErrorCode.TIMEOUT, `${what}: ${String(error)}`)
      assert.equal(error.cause?.code, ErrorCode.UNAUTHORIZED, `${what}: ${error.message}`)
      assert.match(error.cause.message, refusal)
      assert.equal(
        error.message,
        `${what} timed out after ${timeout} ms while reconnecting (${error.cause.message})`,
      )
    }),
  )
})

void test("curve: authorizedKeys 'any' encrypts without checking keys; bad keys are refused as options", async (t) => {
  const server = await curveServer(t, 'any')
  const m = await clientFor(server, { curve: { serverKey: serverKeys.publicKey, ...mallory } })
  await m.state.set('k', 1)
  const bad: NonNullable<ServerOptions['curve']>[] = [
    { ...serverKeys, authorizedKeys: ['not a key'] },
    { publicKey: 'x', secretKey: serverKeys.secretKey, authorizedKeys: 'any' },
    { publicKey: alice.publicKey, secretKey: serverKeys.secretKey, authorizedKeys: 'any' },
    { ...serverKeys, authorizedKeys: [] }, // no client could connect
    { ...serverKeys } as NonNullable<ServerOptions['curve']>, // required: keys, or 'any' said out loud
  ]
  for (const curve of bad) {
    const error = await failure(startServer({ address: 'tcp://127.0.0.1:*', curve }))
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT)
  }
  assert.match(
    (await failure(startServer({ address: 'tcp://127.0.0.1:*', curve: bad[3]! }))).message,
    /empty/,
  )
  assert.match(
    (await failure(startServer({ address: 'tcp://127.0.0.1:*', curve: bad[4]! }))).message,
    /missing/,
  )
  for (const curve of [
    { ...aliceCurve, serverKey: 'short' },
    { ...aliceCurve, serverKey: '0'.repeat(40) }, // a weak key: no secret can be shared with it
    { ...aliceCurve, publicKey: mallory.publicKey }, // halves of two different pairs
    { ...aliceCurve, authorizedKeys: 'any' }, // a server's option: a misplaced name is refused too
  ]) {
    const error = await failure(connect(server.address, { curve }))
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT)
  }
  const plain = await failure(startServer({ address: 'tcp://0.0.0.0:*' }))
  assert.match(plain.message, /curve/)
  // insecure is a boolean: 'yes' is no more true than a typo is.
  for (const insecure of ['yes', 1]) {
    const error = await failure(
      startServer({ address: 'tcp://127.0.0.1:*', insecure } as unknown as ServerOptions),
    )
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT)
    assert.match(error.message, /insecure must be a boolean/)
  }
})

// A tcp relay on loopback in front of `target` that keeps every byte both ways.
async function tap(t: TestContext, target: string): Promise<{ address: string; seen: () => Buffer }> {
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(target)!
  const chunks: Buffer[] = []
  const sockets = new Set<Socket>()
  const relay = createServer((inbound) => {
    const outbound = tcpConnect(Number(port), host)
    for (const socket of [inbound, outbound]) {
      sockets.add(socket)
      socket.on('error', () => {})
    }
    inbound.on('data', (chunk) => chunks.push(chunk)).pipe(outbound)
    outbound.on('data', (chunk) => chunks.push(chunk)).pipe(inbound)
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    relay.close()
  })
  const { port: relayPort } = relay.address() as { port: number }
  return { address: `tcp://127.0.0.1:${relayPort}`, seen: () => Buffer.concat(chunks) }
}

for (const encrypted of [true, false]) {
  void test(`curve: a value written through a wire tap is ${encrypted ? 'not' : 'visible'} in clear ${encrypted ? 'with' : 'without'} curve`, async (t) => {
    // The client goes through the tap, so it is not one of clientFor's: its close is added before the
    // server's, to run first (a client closed after its server waits a second for its goodbye).
    const clients: Client[] = []
    t.after(() => Promise.all(clients.map((client) => client.close())))
    const server = encrypted ? await curveServer(t) : await serverFor(t, 'tcp')
    const wire = await tap(t, server.address)
    const c = await connect(wire.address, encrypted ? { curve: aliceCurve } : {})
    clients.push(c)
    const secret = 'the-secret-value-0123456789'
    await c.state.set('secret', secret)
    assert.equal(wire.seen().includes(secret), !encrypted)
    assert.ok(wire.seen().length > 0, 'the tap saw the request path')
  })
}

void test('curve: a service belongs to the key of its first provider while one lives; shared on request', async (t) => {
  const bob = generateKeyPair()
  const bobCurve = { serverKey: serverKeys.publicKey, ...bob }
  for (const services of ['owned', 'shared'] as const) {
    const server = await serverFor(t, 'tcp', {
      curve: { ...serverKeys, authorizedKeys: [alice.publicKey, bob.publicKey], services },
    })
    const a = await clientFor(server, { curve: aliceCurve })
    const a2 = await clientFor(server, { curve: aliceCurve })
    const b = await clientFor(server, { curve: bobCurve })
    const first = await a.provide('math', { add: (x: number, y: number) => x + y })
    // Another client with the same key joins the service.
    const second = await a2.provide('math', { add: (x: number, y: number) => x + y })
    if (services === 'owned') {
      const error = await failure(b.provide('math', { add: () => -1 }))
      assert.equal(error.code, ErrorCode.UNAUTHORIZED)
      await first.close()
      await second.close()
      // Once the owner's providers are gone, the name is free.
      const mine = await b.provide('math', { add: () => -1 })
      assert.equal(await a.call('math', 'add', [1, 1]), -1)
      await mine.close()
    } else {
      const mine = await b.provide('math', { add: () => -1 })
      assert.equal((await a.services()).find((s) => s.name === 'math')?.providers, 3)
      await Promise.all([first.close(), second.close(), mine.close()])
    }
  }
})

void test('curve: a HELLO that claims another client key without its proof is refused (raw socket)', async (t) => {
  const server = await curveServer(t, [alice.publicKey, mallory.publicKey])
  const dealer = new Dealer({ linger: 0, curveServerKey: serverKeys.publicKey, ...curveSocket(mallory) })
  t.after(() => dealer.close())
  dealer.connect(server.address)
  const token = randomBytes(8).toString('hex')
  const weak = '0'.repeat(40) // a low-order point: X25519 derives no secret with it
  for (const proof of [
    [alice.publicKey, Buffer.alloc(32)],
    null,
    [alice.publicKey],
    [weak, Buffer.alloc(32)],
  ]) {
    await dealer.send(encode([[1, Op.HELLO, PROTOCOL_VERSION, token, process.pid, 'forger', null, proof]]))
    const [reply] = decode(fromParts(await dealer.receive(), 0)!) as unknown[][]
    assert.deepEqual(reply!.slice(0, 3), [1, Status.ERROR, ErrorCode.UNAUTHORIZED])
  }
  const a = await clientFor(server, { curve: aliceCurve })
  assert.equal((await a.server()).clients, 1)
})

function curveSocket(keys: { publicKey: string; secretKey: string }): {
  curvePublicKey: string
  curveSecretKey: string
} {
  return { curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey }
}
