import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect, isZStateError, type StatusEvent } from '../lib/index.ts'
import { fixture, tempDir } from './support.ts'
import { until } from './process-support.ts'

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
