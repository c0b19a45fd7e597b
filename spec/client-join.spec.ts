import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { Router } from 'zeromq'
import { connect, isZStateError, startServer, type Client } from '../lib/index.ts'
import { isLoopbackHost } from '../lib/protocol/address.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { clientFor, clientProcess, fixture, serverFor, tempDir } from './support.ts'

const code = (expected: string) => (e: unknown) => isZStateError(e) && e.code === expected

test('join: a snapshot larger than one message arrives in chunks, at one revision', async (t) => {
  const server = await serverFor(t, 'ipc', { maxMessageBytes: 64 * 1024 })
  const writer = await clientFor(server)
  const value = 'v'.repeat(1000)
  for (let i = 0; i < 20; i++)
    await writer.state.update(
      Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`k${i * 50 + j}`, value])),
    )
  const reader = await clientFor(server)
  assert.equal(reader.state.size, 1000)
  assert.equal(reader.state.revision, 20)
  assert.equal(reader.state.get('k999'), value)
  assert.ok(reader.metrics().messagesIn > 16, 'the snapshot took many messages')
})

test('join: connect() to an address where nobody answers is ERR_TIMEOUT and leaves nothing open', async (t) => {
  const address = `ipc://${join(tempDir(t), 'nobody')}`
  // Our TimeoutError, without the DOMException of AbortSignal.timeout() as its cause.
  await assert.rejects(
    connect(address, { timeout: 200 }),
    (e: unknown) => code('ERR_TIMEOUT')(e) && (e as Error).cause === undefined,
  )
  // A peer that accepts but never answers.
  const mute = new Router()
  await mute.bind(`ipc://${join(tempDir(t), 'mute')}`)
  t.after(() => mute.close())
  await assert.rejects(connect(mute.lastEndpoint!, { timeout: 200 }), code('ERR_TIMEOUT'))
})

test('join: aborting connect() rejects it with signal.reason, unchanged, and closes what it opened', async (t) => {
  // A peer that accepts but never answers, and tells us when the client connects and leaves.
  const mute = new Router()
  const seen = (type: 'accept' | 'disconnect') => new Promise((resolve) => mute.events.on(type, resolve))
  const accepted = seen('accept')
  const disconnected = seen('disconnect')
  await mute.bind(`ipc://${join(tempDir(t), 'mute')}`)
  t.after(() => mute.close())
  const controller = new AbortController()
  const reason = new Error('not waiting any longer')
  const joining = connect(mute.lastEndpoint!, { timeout: 60_000, signal: controller.signal })
  await accepted
  controller.abort(reason)
  await assert.rejects(joining, (error) => error === reason)
  await disconnected
  // Aborted already: nothing is opened at all.
  await assert.rejects(
    connect(mute.lastEndpoint!, { signal: controller.signal }),
    (error) => error === reason,
  )
  await assert.rejects(
    connect(mute.lastEndpoint!, { signal: {} as AbortSignal }),
    code('ERR_INVALID_ARGUMENT'),
  )
})

test('join: bad addresses and options are ERR_INVALID_ARGUMENT', async () => {
  const saved = process.env.ZSTATE_ADDRESS
  delete process.env.ZSTATE_ADDRESS
  try {
    await assert.rejects(connect(), code('ERR_INVALID_ARGUMENT'))
  } finally {
    if (saved !== undefined) process.env.ZSTATE_ADDRESS = saved
  }
  await assert.rejects(connect('foo'), code('ERR_INVALID_ARGUMENT'))
  await assert.rejects(connect('tcp://127.0.0.1:*'), code('ERR_INVALID_ARGUMENT'))
  await assert.rejects(connect('ipc:///tmp/x', { timeout: -5 }), code('ERR_INVALID_ARGUMENT'))
  const { startServer } = await import('../lib/index.ts')
  await assert.rejects(startServer({ address: 'tcp://0.0.0.0:*' }), code('ERR_INVALID_ARGUMENT'))
  // An ipc path no server can listen at (its longest socket file is PATH.topics, and the OS takes
  // 107 bytes) is refused at both ends, in words that name the path given.
  const longest = `/tmp/${'x'.repeat(95)}` // 100 bytes
  for (const path of [`${longest}y`, `/tmp/${'x'.repeat(120)}`]) {
    const refused = (e: any): boolean =>
      e.code === 'ERR_INVALID_ARGUMENT' &&
      e.message.startsWith(`ipc path is ${path.length} bytes, over the limit of 100`) &&
      e.message.endsWith(`: ${path}`)
    await assert.rejects(startServer({ address: `ipc://${path}` }), refused)
    await assert.rejects(connect(`ipc://${path}`, { timeout: 300 }), refused)
  }
  const atTheLimit = await startServer({ address: `ipc://${longest}` })
  await atTheLimit.close()
  await assert.rejects(startServer({ heartbeatMs: 0 }), code('ERR_INVALID_ARGUMENT'))
})

test('join: ZSTATE_ADDRESS may list addresses with spaces after the commas', async (t) => {
  const server = await serverFor(t, 'ipc')
  const saved = process.env.ZSTATE_ADDRESS
  // Nobody listens at the first: the client goes on to the second, as written by a person.
  process.env.ZSTATE_ADDRESS = `ipc://${join(tempDir(t), 'nobody')}, ${server.address}`
  try {
    const client = await connect(undefined, { timeout: 10_000 })
    t.after(() => client.close())
    assert.equal(client.address, server.address)
  } finally {
    if (saved === undefined) delete process.env.ZSTATE_ADDRESS
    else process.env.ZSTATE_ADDRESS = saved
  }
})

test('join: startServer refuses an ipc path where a server listens, and a TMPDIR that cannot hold its sockets', async (t) => {
  const dir = tempDir(t)
  const address = `ipc://${join(dir, 'state')}`
  const first = await startServer({ address })
  t.after(() => first.close())
  await assert.rejects(
    startServer({ address }),
    (e: any) => e.code === 'ERR_INVALID_ARGUMENT' && /another server listens there/.test(e.message),
  )
  // The first one still has the path: a new client reaches it.
  const client = await connect(address)
  assert.equal((await client.server()).pid, process.pid)
  await client.close()
  // A socket file its server left behind (killed) is taken over.
  const abandoned = `ipc://${join(dir, 'abandoned')}`
  const killed = fixture(t, 'server', [JSON.stringify({ address: abandoned })])
  await killed.event(1)
  killed.child.kill('SIGKILL')
  await new Promise((resolve) => killed.child.once('exit', resolve))
  await (await startServer({ address: abandoned })).close()
  // A TMPDIR that is missing, or too long for a socket path, is refused; nothing is left in it.
  const saved = process.env.TMPDIR
  try {
    process.env.TMPDIR = join(dir, 'missing')
    await assert.rejects(startServer(), code('ERR_INVALID_ARGUMENT'))
    const long = join(dir, 'x'.repeat(100 - dir.length))
    mkdirSync(long)
    process.env.TMPDIR = long
    await assert.rejects(startServer(), code('ERR_INVALID_ARGUMENT'))
    assert.deepEqual(readdirSync(long), [])
  } finally {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
  }
})

test('join: a server restarted at once on the tcp port it just closed binds it; a port held is refused', async (t) => {
  let server = await startServer({ address: 'tcp://127.0.0.1:0' })
  t.after(() => server.close())
  const { address } = server
  // libzmq closes a listener in its I/O thread after close() returned: the port may still be bound
  // when the next server binds it (under load it was: bind retries for about a second).
  for (let round = 0; round < 20; round++) {
    const clients = await Promise.all([connect(address), connect(address)])
    await Promise.all(clients.map((client) => client.close()))
    await server.close()
    server = await startServer({ address })
    assert.equal(server.address, address)
  }
  const taken = await startServer({ address }).then(
    () => assert.fail('bound a port in use'),
    (e: unknown) => e,
  )
  assert.ok(code('ERR_INVALID_ARGUMENT')(taken))
  assert.match((taken as Error).message, /Address already in use/)
})

test('join: a server’s private directory goes when its process exits or crashes without closing it', async (t) => {
  for (const command of ['exit', 'crash']) {
    const server = fixture(t, 'server', ['{}'])
    const { address } = (await server.event(1)) as { address: string }
    const dir = dirname(address.slice('ipc://'.length))
    assert.equal(existsSync(dir), true)
    void server.call(command).catch(() => {})
    assert.notEqual((await server.exited).code, 0)
    assert.equal(existsSync(dir), false, `${command}: ${dir} was left`)
  }
})

test('join: a request the server does not answer in time is ERR_TIMEOUT', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const server = fixture(t, 'server', [JSON.stringify({ address })])
  await server.event(1)
  const client = await connect(address, { requestTimeout: 200, heartbeatTimeout: 60_000 })
  t.after(() => client.close())
  server.child.kill('SIGSTOP')
  try {
    await assert.rejects(client.state.set('x', 1), code('ERR_TIMEOUT'))
  } finally {
    server.child.kill('SIGCONT')
  }
})

test('resync: when history no longer covers a gap, the replica is rebuilt and observers are told', async (t) => {
  const server = await serverFor(t, 'ipc', { publishHighWaterMark: 1, history: { revisions: 5 } })
  const writer = await clientProcess(t, server.address, 'writer')
  const watcher = await clientProcess(t, server.address, 'watcher')
  await watcher.call('observeResync', 'x', 2000)
  const release = join(tempDir(t), 'release')
  // The watcher stops reading while far more is published than PUB, SUB and the kernel hold.
  await watcher.call('blockUntilExists', release)
  await writer.call('writeSequence', 'x', 2000, false, 4096)
  writeFileSync(release, '')
  const seen = (await watcher.event(2)) as {
    value: number
    resyncs: number
    sawReset: boolean
    iteratorError: string
  }
  assert.deepEqual(seen, { value: 2000, resyncs: 1, sawReset: true, iteratorError: 'ERR_COMPACTED' })
})

test('join: loopback is 127.0.0.0/8, ::1 and localhost, however written; nothing else is', () => {
  for (const host of [
    '127.0.0.1',
    '127.9.8.7',
    'localhost',
    '[::1]',
    '[0:0:0:0:0:0:0:1]',
    '[::ffff:127.0.0.1]',
  ])
    assert.ok(isLoopbackHost(host), host)
  for (const host of [
    '0.0.0.0',
    '*',
    '[::]',
    '10.0.0.1',
    '[::ffff:10.0.0.1]',
    '127.1',
    'localhost.evil.com',
    '[fe80::1]',
  ])
    assert.ok(!isLoopbackHost(host), host)
})

test('join: tcp on the IPv6 loopback works like 127.0.0.1', async (t) => {
  const { startServer } = await import('../lib/index.ts')
  const server = await startServer({ address: 'tcp://[::1]:*' })
  // One hook, its client first: a client closed after its server waits a second for its goodbye.
  const clients: Client[] = []
  t.after(async () => {
    await Promise.all(clients.map((client) => client.close()))
    await server.close()
  })
  assert.match(server.address, /^tcp:\/\/\[::1\]:\d+$/)
  const client = await connect(server.address)
  clients.push(client)
  assert.equal(await client.state.set('v6', true), 1)
})

test('join: a server of another protocol version is refused with ERR_PROTOCOL naming both', async (t) => {
  // A stand-in server that answers HELLO as a server of the previous protocol would.
  const router = new Router({ linger: 0 })
  t.after(() => router.close())
  await router.bind('tcp://127.0.0.1:*')
  const old = PROTOCOL_VERSION - 1
  void (async () => {
    for await (const [peer, frame] of router) {
      const replies = (decode(frame!) as [number, number][]).map(([id]) => helloReply(id, old))
      await router.send([peer!, encode(replies)])
    }
  })().catch(() => {})
  await assert.rejects(connect(router.lastEndpoint!, { timeout: 5_000 }), (error: unknown) => {
    assert.ok(isZStateError(error) && error.code === 'ERR_PROTOCOL', String(error))
    assert.equal(error.message, `server speaks protocol ${old}, this client ${PROTOCOL_VERSION}`)
    return true
  })
})

// What a server of `protocol` answers to HELLO: its version, epoch, revision 0, endpoints nobody
// listens on, its limits and session 1.
function helloReply(id: number, protocol: number): unknown[] {
  const nowhere = 'tcp://127.0.0.1:1'
  return [id, Status.OK, protocol, '0', '0123456789abcdef', 0, nowhere, 1 << 20, 1000, nowhere, 1]
}

// A server that dies while a client joins it: the client's HELLO went with it, or the server
// answered it and then, restarted, no longer knew the session (the old code gave up on the first
// at the join's timeout, and failed the second at once with the wire's "send HELLO first").
// A server silent for longer than a short requestTimeout is one more that did not answer: the join
// goes on (it failed at the request's timeout, with one address).
test('join: a server that restarts while the client joins is joined after its restart, within the timeout', async (t) => {
  for (const dies of [
    'holding the HELLO',
    'after answering the HELLO',
    'past the request timeout',
  ] as const) {
    // A stand-in for the server that dies, on the tcp port the restarted one binds again.
    const standIn = new Router({ linger: 0 })
    t.after(() => standIn.close())
    await standIn.bind('tcp://127.0.0.1:*')
    const address = standIn.lastEndpoint!
    const silent = dies === 'past the request timeout'
    const joining = connect(address, { timeout: 8_000, ...(silent ? { requestTimeout: 300 } : {}) })
    const dying = async (): Promise<void> => {
      let hellos = 0
      for await (const [peer, frame] of standIn) {
        const requests = decode(frame!) as [number, number][]
        // Silent: until the client, its HELLO unanswered within the request timeout, tries again.
        if (requests[0]![1] === Op.HELLO && silent && ++hellos < 2) continue
        if (requests[0]![1] === Op.HELLO && dies !== 'after answering the HELLO') return
        if (requests[0]![1] === Op.HELLO) {
          await standIn.send([peer!, encode(requests.map(([id]) => helloReply(id, PROTOCOL_VERSION)))])
          continue
        }
        // What the restarted server answers to the rest of the join.
        const forgotten = requests.map(([id]) => [
          id,
          Status.ERROR,
          'ERR_DISCONNECTED',
          'no session with this server: send HELLO first',
        ])
        await standIn.send([peer!, encode(forgotten)])
        return
      }
    }
    // A join that fails meanwhile fails the test, rather than leave the stand-in waiting.
    await Promise.race([dying(), joining.then(() => assert.fail(`${dies}: joined a stand-in`))])
    standIn.close()
    const server = await startServer({ address })
    const clients: Client[] = []
    t.after(async () => {
      await Promise.all(clients.map((client) => client.close()))
      await server.close()
    })
    const client = await joining
    clients.push(client)
    await client.state.set('joined', dies)
    const other = await connect(address)
    clients.push(other)
    assert.equal(other.state.get('joined'), dies, dies)
  }
})

test('join: a tcp port beyond 65535 is refused by connect and startServer, never wrapped around', async () => {
  // libzmq reads 99999 as 34463 (modulo 65,536): a server would bind, and a client reach, another port.
  for (const address of ['tcp://127.0.0.1:99999', 'tcp://127.0.0.1:65536', 'tcp://127.0.0.1:123456'])
    await assert.rejects(connect(address, { timeout: 1_000 }), code('ERR_INVALID_ARGUMENT'))
  await assert.rejects(startServer({ address: 'tcp://127.0.0.1:99999' }), code('ERR_INVALID_ARGUMENT'))
})

test('join: a server given a relative ipc path reports it absolute, and clients elsewhere join it', async (t) => {
  const dir = tempDir(t)
  const home = process.cwd()
  process.chdir(dir)
  let server
  try {
    server = await startServer({ address: 'ipc://rel.sock' })
  } finally {
    process.chdir(home)
  }
  t.after(() => server.close())
  assert.equal(server.address, `ipc://${join(dir, 'rel.sock')}`)
  // From another directory: the change stream's endpoint, handed out at HELLO, is absolute too.
  const client = await connect(server.address)
  t.after(() => client.close())
  assert.equal(await client.state.set('k', 1), 1)
  assert.equal(client.state.get('k'), 1)
})

test('join: a port that is not ZeroMQ’s is no answer (ERR_TIMEOUT), never a CurveZMQ refusal', async (t) => {
  // One closes every connection, one answers as an HTTP server would: neither is a zstate server that
  // wants keys (that one refuses the handshake itself: ERR_UNAUTHORIZED, see security-curve.spec.ts).
  const listeners = [
    createServer((socket) => socket.destroy()),
    createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))),
  ]
  for (const listener of listeners) {
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    t.after(() => listener.close())
    const { port } = listener.address() as AddressInfo
    await assert.rejects(connect(`tcp://127.0.0.1:${port}`, { timeout: 500 }), code('ERR_TIMEOUT'))
  }
})
