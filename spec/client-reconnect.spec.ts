import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Router } from 'zeromq'
import { connect, isZStateError, startServer, ErrorCode, type StatusEvent } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { bindFreed } from '../lib/zmq.ts'
import { fixture, tempDir } from './support.ts'
import { failure, until } from './process-support.ts'

async function serverProcess(t: TestContext, address: string) {
  const server = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 50 })])
  const { epoch } = (await server.event(1)) as { epoch: string }
  return { server, epoch }
}

// A server in its own process at a fresh address, and two clients of it.
async function twoClients(t: TestContext) {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const first = await serverProcess(t, address)
  const a = await connect(address)
  const b = await connect(address)
  t.after(() => Promise.all([a.close(), b.close()]))
  return { address, first, a, b }
}

async function nextStatus(events: AsyncIterator<StatusEvent>): Promise<string> {
  const { value } = await events.next()
  return (value as StatusEvent).type
}

test('reconnect: a server restarted on the same address; in-flight requests fail, clients resync and go on', async (t) => {
  const { address, first, a, b } = await twoClients(t)
  const events = a.status()[Symbol.asyncIterator]()
  await a.state.set('before', 1)
  await b.state.sync()
  assert.equal(b.state.get('before'), 1)

  // Writes in flight while the server dies: each either committed or failed with ERR_DISCONNECTED.
  const inFlight = Array.from({ length: 2000 }, (_, i) => a.state.set(`k${i}`, i))
  first.server.child.kill('SIGKILL')
  const outcomes = await Promise.allSettled(inFlight)
  const failed = outcomes.filter((o) => o.status === 'rejected')
  for (const f of failed)
    assert.ok(isZStateError(f.reason) && f.reason.code === 'ERR_DISCONNECTED', String(f.reason))
  assert.equal(await nextStatus(events), 'disconnected')

  const second = await serverProcess(t, address)
  assert.notEqual(second.epoch, first.epoch)
  assert.equal(await nextStatus(events), 'reset')
  // The new server starts empty, at revision 0, and both clients work against it.
  assert.equal(a.state.get('before'), undefined)
  assert.equal(await a.state.set('after', 2), 1)
  await b.state.whenEqual('after', 2, { timeout: 10_000 })
  assert.equal(b.state.get('before'), undefined)
  assert.equal(b.state.revision, 1)
})

// A server lost while the replica joins it (takes its snapshot): the join is given up as a joined
// server would be, once it is silent for the heartbeat timeout or a server that took its address
// refuses the session, and the client goes on. It waited for the snapshot for requestTimeout before.
async function frozenAtSnapshot(t: TestContext, address: string) {
  const server = fixture(t, 'server-frozen-at-snapshot', [JSON.stringify({ address, heartbeatMs: 50 })])
  await server.event(1)
  const state = (): string | undefined =>
    /\) (\w)/.exec(readFileSync(`/proc/${server.child.pid}/stat`, 'utf8'))?.[1]
  await until(() => state() === 'T', 'the server stopped itself at the snapshot request', 30_000)
  return server
}

for (const ending of ['silent, another address', 'replaced on its address'] as const) {
  test(`reconnect: a server lost while the replica joins it is given up as a lost server (${ending})`, async (t) => {
    const dir = tempDir(t)
    const [x, y] = ['x', 'y'].map((name) => `ipc://${join(dir, name)}`) as [string, string]
    const addresses = ending === 'replaced on its address' ? [x] : [x, y]
    const first = await serverProcess(t, x)
    const client = await connect(addresses, { requestTimeout: 60_000 })
    t.after(() => client.close())
    const events = client.status()[Symbol.asyncIterator]()
    first.server.child.kill('SIGKILL')
    assert.equal(await nextStatus(events), 'disconnected')
    const write = client.state.set('after', 1)

    const frozen = await frozenAtSnapshot(t, x)
    const since = Date.now()
    if (addresses.length === 1) frozen.child.kill('SIGKILL')
    await serverProcess(t, addresses.at(-1)!)
    assert.equal(await nextStatus(events), 'reset')
    const ms = Date.now() - since
    assert.ok(ms < 15_000, `joined the next server after ${ms} ms`)
    assert.equal(await write, 1)
  })
}

test('reconnect: a resync never satisfies whenChange; the first later commit does', async (t) => {
  const { address, first, a, b } = await twoClients(t)
  await a.state.set('k', 1)
  await b.state.whenEqual('k', 1)
  const changes = [a.state.whenChange('k'), b.state.whenChange(['k', 'other'])]
  const events = [a, b].map((client) => client.status()[Symbol.asyncIterator]())
  first.server.child.kill('SIGKILL')
  for (const each of events) assert.equal(await nextStatus(each), 'disconnected')
  await serverProcess(t, address)
  // The new server starts empty: the resync deletes k in both replicas, which is no change of k.
  for (const each of events) assert.equal(await nextStatus(each), 'reset')
  const revision = await a.state.set('k', 2)
  for (const change of await Promise.all(changes))
    assert.deepEqual(change, { key: 'k', value: 2, previous: undefined, deleted: false, revision })
})

test('reconnect: requests made while the server is away wait for it within their timeout', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const first = await serverProcess(t, address)
  const client = await connect(address)
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  first.server.child.kill('SIGKILL')
  assert.equal(await nextStatus(events), 'disconnected')
  const value = { n: 1, list: ['a'] }
  const waiting = client.state.set('x', value)
  // What the caller changes while its write waits is not what gets written.
  value.n = 2
  value.list.push('b')
  await serverProcess(t, address)
  assert.equal(await waiting, 1)
  assert.equal(await nextStatus(events), 'reset')
  assert.deepEqual(client.state.get('x'), { n: 1, list: ['a'] })
})

// After a restart, a server of another protocol version holds the address (a stand-in that answers
// HELLO as that server does, and the rest as a server without this client's session): every rejoin
// is refused, and every timeout says so, with the refusal (ERR_PROTOCOL) as its cause, never a
// DOMException; a request the stand-in refused unapplied too. The client keeps trying, and joins a
// server of its own protocol once one is back. The old code kept only ERR_UNAUTHORIZED refusals.
test('reconnect: a server of another protocol version at the address is named by every timeout; the client keeps trying', async (t) => {
  const first = await startServer({ address: 'tcp://127.0.0.1:*' })
  const { address } = first
  // Silence alone does not tell it the server is gone: its next request goes on the old link.
  const client = await connect(address, { requestTimeout: 2_000, heartbeatTimeout: 60_000 })
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  await first.close()
  const refusal = `unsupported protocol version ${PROTOCOL_VERSION}; this server speaks ${PROTOCOL_VERSION + 1}`
  const standIn = new Router({ linger: 0 })
  t.after(() => standIn.close())
  // The server's port may still be bound for a moment after close() (libzmq's I/O thread).
  await bindFreed(standIn, address)
  void (async () => {
    for await (const [peer, frame] of standIn) {
      const replies = (decode(frame!) as [number, number][]).map(([id, op]) =>
        op === Op.HELLO
          ? [id, Status.ERROR, 'ERR_PROTOCOL', refusal]
          : [id, Status.ERROR, 'ERR_DISCONNECTED', 'no session with this server: send HELLO first'],
      )
      await standIn.send([peer!, encode(replies)])
    }
  })().catch(() => {})
  const forgotten = failure(client.state.set('k', 1))
  assert.equal(await nextStatus(events), 'disconnected')
  const [held, waited, bounded] = await Promise.all([
    forgotten,
    failure(client.state.sync()),
    failure(client.state.set('k', 2, { timeout: 300 })),
  ])
  for (const [error, message] of [
    [
      held,
      'request timed out after 2000 ms: the server had forgotten this client (it did not apply the request), and rejoining took longer',
    ],
    [waited, 'request timed out after 2000 ms while reconnecting'],
    [bounded, 'set() timed out after 300 ms while reconnecting'],
  ] as const) {
    assert.equal(error.code, ErrorCode.TIMEOUT, String(error))
    assert.equal(error.message, `${message} (${refusal})`)
    assert.ok(isZStateError(error.cause) && error.cause.code === ErrorCode.PROTOCOL, String(error.cause))
  }
  standIn.close()
  const second = await startServer({ address })
  t.after(() => second.close())
  assert.equal(await nextStatus(events), 'reset')
  assert.equal(await client.state.set('k', 3), 1)
})
