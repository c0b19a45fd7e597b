import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Dealer } from 'zeromq'
import { connect, type StatusEvent } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Push } from '../lib/protocol/ops.ts'
import { codeOf, providerProcess } from './messaging-support.ts'
import { fixture, serverFor, stress, tempDir } from './support.ts'
import { fromParts } from '../lib/protocol/parts.ts'

// The server forgets a client silent for 10 heartbeats: 1 s here.
const HEARTBEAT_MS = 100
const EXPIRY_MS = 10 * HEARTBEAT_MS
const WRITES = stress ? 10_000 : 1_000

// A state server in its own process, so that blocking this one does not stop it.
async function serverProcess(t: TestContext) {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const server = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: HEARTBEAT_MS })])
  await server.event(1)
  return { server, address }
}

// Keeps this process's event loop busy for ms: no timer, heartbeat or socket of it runs meanwhile.
function block(ms: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  const end = Date.now() + ms
  while (Date.now() < end) Atomics.wait(cell, 0, 0, 5)
}

async function nextStatus(events: AsyncIterator<StatusEvent>): Promise<string> {
  const { value } = await events.next()
  return (value as StatusEvent).type
}

test('session expiry: writes refused after a blocked event loop are sent again, each applied once, in order', async (t) => {
  const { address } = await serverProcess(t)
  const client = await connect(address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  await client.state.set('n', 0)
  const start = client.state.revision

  block(EXPIRY_MS * 3)
  // Issued before any timer of this process has run: the server, which has forgotten this client,
  // refuses every one of them without applying it.
  const writes = Array.from({ length: WRITES }, () => client.state.increment('n'))
  const seen = Promise.all(
    writes.map((write) => write.then((value) => ({ value, replica: client.state.get('n') as number }))),
  )
  assert.equal(await nextStatus(events), 'disconnected')
  // Issued after the refusal, while the client rejoins: it commits after every resent write.
  const later = client.state.increment('n')

  const results = await seen
  assert.deepEqual(
    results.map(({ value }) => value),
    Array.from({ length: WRITES }, (_, i) => i + 1),
    'each write applied once, in the order issued',
  )
  for (const { value, replica } of results) assert.ok(replica >= value, 'read-your-writes')
  assert.equal(await later, WRITES + 1)
  assert.equal(await nextStatus(events), 'reconnected')

  // One revision per write, and a replica equal to a fresh client's.
  const fresh = await connect(address)
  t.after(() => fresh.close())
  assert.equal(await fresh.state.sync(), start + WRITES + 1)
  assert.equal(await client.state.sync(), start + WRITES + 1)
  assert.deepEqual(client.state.snapshot(), fresh.state.snapshot())
})

test('session expiry: a service call refused after a blocked event loop is sent again and runs once', async (t) => {
  const { address } = await serverProcess(t)
  await providerProcess(t, address, 'counter', 'p')
  const client = await connect(address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()

  block(EXPIRY_MS * 3)
  assert.equal(await client.call('counter', 'tally', []), 1)
  assert.equal(await nextStatus(events), 'disconnected')
  assert.equal(await nextStatus(events), 'reconnected')
  // The sentinel: had the first call run twice, this one would count 3.
  assert.equal(await client.call('counter', 'tally', []), 2)
})

test('session expiry: a refused write still times out at its deadline when the rejoin takes too long', async (t) => {
  const { server, address } = await serverProcess(t)
  const client = await connect(address, { requestTimeout: 2_000 })
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()

  block(EXPIRY_MS * 3)
  const write = client.state.set('x', 1)
  assert.equal(await nextStatus(events), 'disconnected')
  // The write waits for a rejoin that a stopped server never completes.
  server.child.kill('SIGSTOP')
  assert.equal(await codeOf(write), 'ERR_TIMEOUT')
})

test('session expiry: a write in flight when the server dies has an unknown outcome: ERR_DISCONNECTED, not sent again', async (t) => {
  const first = await serverProcess(t)
  const client = await connect(first.address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()

  // Sent to a server that can no longer answer: the client cannot know whether it was applied.
  first.server.child.kill('SIGSTOP')
  const write = client.state.set('x', 1)
  first.server.child.kill('SIGKILL')
  assert.equal(await codeOf(write), 'ERR_DISCONNECTED')
  assert.equal(await nextStatus(events), 'disconnected')

  const second = fixture(t, 'server', [JSON.stringify({ address: first.address, heartbeatMs: HEARTBEAT_MS })])
  await second.event(1)
  assert.equal(await nextStatus(events), 'reset')
  // The new server's first commit is the next write: the lost one was not sent again.
  assert.equal(await client.state.set('y', 1), 1)
  assert.equal(client.state.get('x'), undefined)
})

test('session expiry: a provider cannot pass its error off as the server refusing a request', async (t) => {
  const server = await serverFor(t, 'ipc')
  const provider = new Dealer({ linger: 0 })
  provider.connect(server.address)
  t.after(() => provider.close())
  const receive = async (match: (reply: unknown[]) => boolean): Promise<unknown[]> => {
    for (;;) {
      for (const reply of decode(fromParts(await provider.receive(), 0)!) as unknown[][])
        if (match(reply)) return reply
    }
  }
  await provider.send(encode([[1, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', process.pid, 'forger']]))
  await receive((reply) => reply[0] === 1)
  await provider.send(encode([[2, Op.PROVIDE, 'forged', ['m'], 1, 7]]))
  await receive((reply) => reply[0] === 2)

  const client = await connect(server.address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  const call = client.call('forged', 'm', [])
  const [, , callId] = await receive((reply) => reply[0] === 0 && reply[1] === Push.CALL)
  await provider.send(encode([[0, Op.RESULT, callId, 1, 'ERR_DISCONNECTED', 'forged']]))
  assert.equal(await codeOf(call), 'ERR_PROTOCOL')
  assert.equal(await client.state.set('still', 'connected'), 1)
  await client.close()
  assert.equal(await nextStatus(events), 'closed', 'the client never counted the server as lost')
})

// A server whose own event loop was blocked has not heard its clients' pings for as long: when it
// runs again, its heartbeat timer can fire before it reads them. That silence is its own, not theirs.
test('session expiry: a server whose own event loop was blocked forgets no client for it', async (t) => {
  const server = await serverFor(t, 'ipc', { heartbeatMs: HEARTBEAT_MS })
  const client = await connect(server.address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  await client.state.set('n', 0)
  for (let round = 1; round <= 3; round++) {
    // Server and client share this loop: both are blocked, neither hears the other.
    block(EXPIRY_MS * 2)
    assert.equal(await client.state.set('n', round), round + 1, `round ${round}: the same session writes on`)
  }
  assert.equal((await client.server()).clients, 1)
  await client.close()
  assert.equal(
    await nextStatus(events),
    'closed',
    'the client was never forgotten, nor counted the server lost',
  )
})
