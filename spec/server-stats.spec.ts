// STATS (lib/protocol/server-stats.ts): the counters the dashboard and /metrics show count exactly what
// clients did, and what a client can make the server remember stays bounded.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { serverStats } from '../lib/client/server-stats.ts'
import { deferred } from '../lib/deferred.ts'
import { Op, Status } from '../lib/protocol/ops.ts'
import { MAX_TRACKED_TOPICS } from '../lib/protocol/server-stats.ts'
import { until } from './process-support.ts'
import { rawPeer } from './raw-peer.ts'
import { rawSession, withFreshTurn } from './raw-session.ts'
import { clientFor, serverFor, tempDir } from './support.ts'

test('stats: commits, sessions, history and conflicts count what clients did', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const writes = 50
  for (let i = 0; i < writes; i++) await client.state.set(`k${i % 5}`, i)
  const before = await serverStats(client)
  assert.equal(before.commits, writes)
  assert.equal(before.revision, writes)
  assert.deepEqual(before.sessions, { full: 1, partial: 0 })
  assert.equal(before.history.revisions, writes)
  assert.ok(before.history.bytes > 0 && before.commitBytes >= before.history.bytes)
  assert.ok(before.messagesIn >= writes && before.bytesIn > 0 && before.messagesOut > 0)
  assert.equal(before.storage, null)

  // A transaction based before k0's last change conflicts; one on the current revision commits.
  const peer = await rawPeer(t, server.address)
  const txn = (base: number) => peer.request(Op.TXN, server.epoch, base, ['k0'], false, [['k0', 0, 'x']])
  const refused = await txn(writes - 10)
  assert.equal(refused[1], Status.ERROR)
  assert.equal(refused[2], 'ERR_CONFLICT')
  assert.equal((await txn(writes))[1], Status.OK)
  // A second first snapshot of one session is a resync. A history fetch is a gap repair however
  // many pages it takes: a request that goes on where the session's last page ended is the same one.
  assert.equal((await peer.request(Op.SNAPSHOT, null))[1], Status.OK)
  assert.equal((await peer.request(Op.SNAPSHOT, null))[1], Status.OK)
  for (const [from, to] of [
    [1, 3],
    [4, 9],
    [10, 10],
    [2, 5],
  ])
    assert.equal((await peer.request(Op.HISTORY, from, to))[1], Status.OK)
  const after = await serverStats(client)
  assert.equal(after.conflicts, 1)
  assert.equal(after.commits, writes + 1)
  assert.equal(after.resyncs, before.resyncs + 1)
  assert.equal(after.gapRepairs, before.gapRepairs + 2)
  assert.deepEqual(after.sessions, { full: 2, partial: 0 })

  await clientFor(server, { replicate: ['jobs/'] })
  assert.deepEqual((await serverStats(client)).sessions, { full: 2, partial: 1 })
})

// A client whose session expired rejoins in a new one, finds its gap no longer in the history and
// takes a snapshot: that is a resync, though it is the new session's first snapshot.
test('stats: a first snapshot after the history refused the session its gap is a resync', async (t) => {
  const server = await serverFor(t, 'ipc', { history: { revisions: 10 } })
  const client = await clientFor(server)
  for (let i = 0; i < 30; i++) await client.state.set('k', i)
  const before = await serverStats(client)
  const peer = await rawPeer(t, server.address)
  assert.equal((await peer.request(Op.HISTORY, 5, 30))[2], 'ERR_COMPACTED')
  assert.equal((await peer.request(Op.SNAPSHOT, null))[1], Status.OK)
  const after = await serverStats(client)
  assert.equal(after.resyncs, before.resyncs + 1)
  assert.equal(after.gapRepairs, before.gapRepairs, 'a refused fetch repaired nothing')
})

test('stats: a service shows its providers, calls in flight, queued and failed', async (t) => {
  const server = await serverFor(t, 'ipc')
  const provider = await clientFor(server)
  const caller = await clientFor(server)
  const release = deferred<void>()
  await provider.provide(
    'jobs',
    {
      slow: async (n: number) => {
        await release.promise
        return n
      },
      fail: () => {
        throw new Error('no')
      },
    },
    { concurrency: 1 },
  )
  const calls = [1, 2, 3].map((n) => caller.call('jobs', 'slow', [n]))
  await until(async () => {
    const [jobs] = (await serverStats(caller)).services
    return jobs?.inFlight === 1 && jobs.queued === 2
  }, 'one call is at the provider and two wait')
  release.resolve()
  assert.deepEqual(await Promise.all(calls), [1, 2, 3])
  await assert.rejects(caller.call('jobs', 'fail', []), { name: 'RemoteError' })
  const [jobs, ...others] = (await serverStats(caller)).services
  assert.deepEqual(others, [])
  assert.deepEqual(jobs, {
    name: 'jobs',
    providers: 1,
    methods: ['fail', 'slow'],
    calls: 4,
    failed: 1,
    queued: 0,
    inFlight: 0,
  })
})

// Counters never go backwards, and every call that ended without a result is a failed one: given up
// on by its caller (its timeout) or lost with its provider, even the service's last one.
test('stats: a service counts every call that got no result, and its counters go on when it comes back', async (t) => {
  const server = await serverFor(t, 'ipc')
  const provider = await clientFor(server)
  const caller = await clientFor(server)
  const release = deferred<void>()
  const slow = async (n: number) => {
    await release.promise
    return n
  }
  await provider.provide('jobs', { slow }, { concurrency: 1 })
  const stats = async () => (await serverStats(caller)).services.find((service) => service.name === 'jobs')
  const lost = caller.call('jobs', 'slow', [1])
  await until(async () => (await stats())?.inFlight === 1, 'the first call is at the provider')
  await assert.rejects(caller.call('jobs', 'slow', [2], { timeout: 100 }), { code: 'ERR_TIMEOUT' })
  await until(async () => (await stats())?.queued === 0, 'the call its caller gave up on left the queue')
  assert.equal((await stats())?.failed, 1)

  // The last provider goes: the call it holds is lost, the queued ones have no provider left.
  const queued = [4, 5].map((n) => caller.call('jobs', 'slow', [n]))
  await until(async () => (await stats())?.queued === 2, 'two calls wait')
  const outcomes = Promise.allSettled([lost, ...queued])
  await provider.close()
  assert.deepEqual(
    (await outcomes).map(
      (outcome) => outcome.status === 'rejected' && (outcome.reason as { code: string }).code,
    ),
    ['ERR_PROVIDER_LOST', 'ERR_NO_PROVIDER', 'ERR_NO_PROVIDER'],
  )
  assert.equal(await stats(), undefined, 'no provider, no service')
  const again = await clientFor(server)
  await again.provide('jobs', { slow: (n: number) => n })
  assert.equal(await caller.call('jobs', 'slow', [3]), 3)
  assert.deepEqual(await stats(), {
    name: 'jobs',
    providers: 1,
    methods: ['slow'],
    calls: 5,
    failed: 4,
    queued: 0,
    inFlight: 0,
  })
})

test(`stats: topics, most recent first, at most ${MAX_TRACKED_TOPICS} of them`, async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const count = MAX_TRACKED_TOPICS + 44
  for (let i = 0; i < count; i++) await client.publish(`t/${i}`, i)
  for (let i = 0; i < 5; i++) await client.publish('t/1', 'again')
  const { topics } = await serverStats(client)
  assert.equal(topics.length, MAX_TRACKED_TOPICS)
  // t/1 had been forgotten: its count starts again.
  assert.equal(topics[0]!.topic, 't/1')
  assert.equal(topics[0]!.messages, 5)
  assert.equal(topics[1]!.topic, `t/${count - 1}`)
  assert.equal(topics[1]!.messages, 1)
  // The oldest were forgotten to make room.
  assert.ok(!topics.some((topic) => topic.topic === 't/0' || topic.topic === 't/2'))
  assert.ok(topics.every((topic) => topic.bytes > 0 && topic.lastPublished > 0))
})

test('stats: turns on contended keys: waiting, granted, lapsed', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (a, key) => {
    const before = (await serverStats(client)).turns
    // b waits behind a's turn, which a never uses: it lapses, and b's transaction commits.
    const b = await rawSession(t, server.address, ['elsewhere/'], key)
    await b.txn(2, a.revision, 1, true)
    await b.send([3, Op.PING])
    await b.reply(3)
    const waiting = (await serverStats(client)).turns
    assert.deepEqual(waiting, { ...before, waiting: 1 })
    assert.equal((await b.reply(2))[1], Status.OK)
    const after = (await serverStats(client)).turns
    assert.deepEqual(after, { waiting: 0, granted: before.granted, lapsed: before.lapsed + 1 })
  })
  // The holders granted their turns (a round the machine made late is run again).
  assert.ok((await serverStats(client)).turns.granted >= 1)
})

test('stats: a durable server counts its fsyncs and their time', async (t) => {
  const server = await serverFor(t, 'ipc', { dataDir: join(tempDir(t), 'data') })
  const client = await clientFor(server)
  for (let i = 0; i < 10; i++) await client.state.set('k', i)
  const { storage } = await serverStats(client)
  assert.equal(storage?.fsync, 'always')
  assert.ok(storage.fsyncs >= 1 && storage.fsyncs <= 10, `${storage.fsyncs} fsyncs for 10 awaited sets`)
  assert.ok(storage.fsyncSeconds > 0)
})

test('stats: a STATS request with arguments is refused, and the server goes on', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  const reply = await peer.request(Op.STATS, 'x')
  assert.equal(reply[1], Status.ERROR)
  assert.equal(reply[2], 'ERR_PROTOCOL')
  const [id, status, stats] = await peer.request(Op.STATS)
  assert.equal(id, 1)
  assert.equal(status, Status.OK)
  assert.equal((stats as { commits: number }).commits, 0)
})
