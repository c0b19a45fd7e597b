// Leases on etcd gateways (docs/scale-out.md): every gateway sweeps the keys whose ttl ran out and
// deletes them through etcd, once, whichever gets there first; a key written again meanwhile stays;
// keys whose deletion failed (etcd without a quorum) are deleted once it can be done. compareAndSet
// takes a lease as set does (ephemeral keys in general: etcd-gateways-failover.spec.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { client, etcdGateways } from './fixtures/etcd-gateways.ts'
import { until } from './process-support.ts'
import { warnings } from './storage-support.ts'

const { skip, clientsOfTwo, onOwnCluster } = etcdGateways('etcd-gateways-leases.spec')

test('ttl keys expire through etcd once, whichever gateway sweeps', { skip }, async (t) => {
  const { onA: writer, onB: watcher } = await clientsOfTwo(t)
  await writer.state.set('lease/ttl', 1, { ttl: 200 })
  const deletions: number[] = []
  const watching = (async () => {
    for await (const change of watcher.state.watch({ key: 'lease/ttl' }))
      if (change.deleted) {
        deletions.push(change.revision)
        return
      }
  })()
  await watcher.state.whenDeleted('lease/ttl', { timeout: 5000 })
  await watching
  await writer.state.set('after', 1)
  await watcher.state.whenEqual('after', 1, { timeout: 5000 })
  assert.equal(deletions.length, 1)
})

// etcd takes at most 128 operations per transaction: far more keys than that come due together.
test('ttl keys written together expire together through etcd, however many', { skip }, async (t) => {
  const { onA: writer, onB: watcher } = await clientsOfTwo(t)
  const n = 300
  // Every key's write and deletion, as the other gateway's client sees them: under load the first
  // keys may expire before the last are written, so no moment need hold all of them.
  const written = new Set<string>()
  const deleted = new Set<string>()
  const changes = watcher.state.watch({
    prefix: 'cache/',
    fromRevision: watcher.state.revision + 1,
    signal: AbortSignal.timeout(30_000),
  })
  const watching = (async () => {
    for await (const change of changes) {
      const seen = change.deleted ? deleted : written
      seen.add(change.key)
      if (deleted.size === n) return
    }
  })()
  await Promise.all(Array.from({ length: n }, (_, i) => writer.state.set(`cache/${i}`, i, { ttl: 300 })))
  await writer.state.set('kept', true)
  await watching
  assert.equal(written.size, n)
  await watcher.state.sync()
  assert.deepEqual(Object.keys(watcher.state.snapshot()), ['kept'])
})

// A sweep lists the keys due, then deletes them, up to 120 per transaction, one transaction after
// another: only those still due when their transaction is worked out (again after a conflict, on a
// replica that has caught up). Before, it deleted every listed key still present, so a key written
// again while its sweep went on was deleted just after.
test(
  'a ttl key written again while its sweep goes on, permanent or with a fresh ttl, stays: only keys still due are deleted',
  { skip },
  async (t) => {
    const { onA: writer, onB: watcher } = await clientsOfTwo(t)
    const n = 1200
    const keys = Array.from({ length: n }, (_, i) => `due/${i}`)
    // Each key's changes as the other gateway's client sees them.
    const seen = new Map<string, unknown[]>(keys.map((key) => [key, []]))
    const watching = (async () => {
      const changes = watcher.state.watch({
        prefix: 'due/',
        fromRevision: watcher.state.revision + 1,
        signal: AbortSignal.timeout(60_000),
      })
      for await (const change of changes) {
        seen.get(change.key)!.push(change.deleted ? 'deleted' : change.value)
        if (change.key === keys[0] && change.value === 'again') return
      }
    })()
    const firstDeletion = (async () => {
      const changes = writer.state.watch({ prefix: 'due/', signal: AbortSignal.timeout(30_000) })
      for await (const change of changes) if (change.deleted) return
    })()
    await Promise.all(keys.map((key) => writer.state.set(key, 'first', { ttl: 1000 })))
    // Once the sweep has begun, every key is written again, the last listed first: the sweep's
    // later transactions meet keys written again since it listed them. Odd keys take a ttl they will
    // not outlive in this test.
    await firstDeletion
    await Promise.all(
      keys.toReversed().map((key, i) => writer.state.set(key, 'again', i % 2 ? { ttl: 600_000 } : {})),
    )
    await watching
    // Every sweep that could have listed these keys is over once one due after them has gone.
    await writer.state.set('marker', 1, { ttl: 250 })
    await watcher.state.whenDeleted('marker', { timeout: 10_000 })
    await watcher.state.sync()
    const deletedAfter = keys.filter((key) => {
      const changes = seen.get(key)!
      return changes.slice(changes.indexOf('again')).includes('deleted')
    })
    const expiredFirst = keys.filter((key) => seen.get(key)![1] === 'deleted').length
    t.diagnostic(`${expiredFirst} of ${n} keys were deleted before they were written again`)
    assert.deepEqual(deletedAfter, [], 'no key was deleted after it was written again')
    assert.deepEqual(
      keys.filter((key) => watcher.state.get(key) !== 'again'),
      [],
    )
  },
)

// A sweep whose deletion fails puts its keys back on the schedule. Before, they were taken off it for
// good, and stayed for as long as the gateways ran.
test(
  'ttl keys that come due while etcd has no quorum are deleted once it has one again',
  { skip },
  async (t) => {
    const warned = warnings(t)
    const { own, c } = await onOwnCluster(t)
    await c.state.set('due', 1, { ttl: 1000 })
    await own.kill(0)
    await own.kill(1)
    const failed = (): Error[] =>
      warned.list.filter(({ message }) => /deleting expired keys through etcd failed/.test(message))
    await until(() => failed().length > 0, 'the sweep fails', 30_000)
    assert.equal(c.state.get('due'), 1, 'the key is still there')
    await own.restart(1)
    await own.waitHealthy(1)
    await c.state.whenDeleted('due', { timeout: 20_000 })
    assert.equal(failed().length, 1, 'one warning for the outage, not one per sweep')
  },
)

test(
  'compareAndSet elects a leader across gateways: the key goes with its session, a rival on the other gateway takes it; its ttl expires',
  { skip },
  async (t) => {
    const { a, onA: leader, onB: rival } = await clientsOfTwo(t)
    const candidate = await client(t, a.address)
    assert.equal(await leader.state.compareAndSet('leader', undefined, 'a', { ephemeral: true }), true)
    assert.equal(await rival.state.compareAndSet('leader', undefined, 'b', { ephemeral: true }), false)
    assert.equal(await candidate.state.compareAndSet('lock', undefined, 'c', { ttl: 300 }), true)
    await rival.state.whenDeleted('lock', { timeout: 5000 })
    assert.equal(rival.state.get('leader'), 'a')
    await leader.close()
    await rival.state.whenDeleted('leader', { timeout: 5000 })
    assert.equal(await rival.state.compareAndSet('leader', undefined, 'b', { ephemeral: true }), true)
    await candidate.state.whenEqual('leader', 'b', { timeout: 5000 })
  },
)
