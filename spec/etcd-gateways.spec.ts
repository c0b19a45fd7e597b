// Several zstate servers as gateways to one state held by a real etcd cluster (docs/scale-out.md):
// order, batching, read-your-writes and exact totals across gateways. Failover, outages, limits and
// messaging are in etcd-gateways-failover.spec.ts (each file stays well within the test timeout).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { client, etcdGateways } from './fixtures/etcd-gateways.ts'
import { clientProcess, stress } from './support.ts'

// No gateway dies here: the server's default heartbeat (500 ms).
const { skip, cluster, gateways, clientsOfTwo, stateOptions } = etcdGateways('etcd-gateways.spec', {
  heartbeatMs: 500,
})
const sequence = stress ? 100_000 : 2_000
const k = stress ? 2_000 : 50

test(
  `${sequence} writes through gateway A reach a watcher on gateway B in order, none skipped, each read back at once by its writer`,
  { skip },
  async (t) => {
    const { a, b, onA: writer, onB: reader } = await clientsOfTwo(t)
    const seen: number[] = []
    const revisions: number[] = []
    const watching = (async () => {
      for await (const change of reader.state.watch({ key: 'seq' })) {
        seen.push(change.value as number)
        revisions.push(change.revision)
        if (change.value === sequence) return
      }
    })()
    let previous = 0
    for (let i = 1; i <= sequence; i++) {
      const revision = await writer.state.set('seq', i)
      assert.equal(writer.state.get('seq'), i, 'read-your-writes')
      assert.ok(revision > previous, 'revisions increase')
      previous = revision
    }
    await watching
    assert.deepEqual(
      seen,
      Array.from({ length: sequence }, (_, i) => i + 1),
    )
    assert.ok(revisions.every((revision, i) => i === 0 || revision > revisions[i - 1]!))
    assert.equal(reader.state.revision, writer.state.revision, 'both replicas end at the same etcd revision')
    assert.equal(a.epoch, b.epoch, 'gateways of one state share its epoch')
  },
)

test(
  "a session's writes in flight commit in batches, in order: every value gets a revision, every write settles once",
  { skip },
  async (t) => {
    const n = stress ? 20_000 : 1_000
    // A write of a key the batch already writes starts the next transaction, one in etcd at a time:
    // the 42,000 writes of the stress run take longer than the 30 s a request may wait by default.
    const { onA: writer, onB: watcher } = await clientsOfTwo(t, { requestTimeout: stress ? 600_000 : 30_000 })
    const seen: number[] = []
    const watching = (async () => {
      for await (const change of watcher.state.watch({ key: 'last' })) {
        seen.push(change.value as number)
        if (change.value === n) return
      }
    })()
    const commitsBefore = (await writer.server()).revision
    // Sets of distinct keys, a key written again and again, and increments, all in flight at once.
    const writes: Promise<unknown>[] = []
    for (let i = 1; i <= n; i++) {
      writes.push(writer.state.set(`item/${i}`, i))
      writes.push(writer.state.set('last', i))
      if (i % 10 === 0) writes.push(writer.state.increment('tens'))
    }
    const settled = await Promise.all(writes)
    const increments = settled.filter((_, i) => (i + 1) % 21 === 0)
    assert.deepEqual(
      increments,
      Array.from({ length: n / 10 }, (_, i) => i + 1),
      'increments in order',
    )
    await watching
    assert.deepEqual(
      seen,
      Array.from({ length: n }, (_, i) => i + 1),
      'every value of last, in order',
    )
    for (const i of [1, n / 2, n]) assert.equal(watcher.state.get(`item/${i}`), i)
    const commits = (await writer.server()).revision - commitsBefore
    t.diagnostic(`${writes.length} writes in ${commits} etcd revisions`)
    // Distinct keys only: batches as large as etcd takes in one transaction.
    const revisions = await Promise.all(
      Array.from({ length: n }, (_, i) => writer.state.set(`distinct/${i}`, i)),
    )
    assert.ok(
      revisions.every((revision, i) => i === 0 || revision >= revisions[i - 1]!),
      'in order',
    )
    const batches = new Set(revisions).size
    assert.ok(batches <= n / 10, `${n} sets of distinct keys took ${batches} revisions`)
    assert.equal(writer.state.get(`distinct/${n - 1}`), n - 1)
    t.diagnostic(`${n} sets of distinct keys in ${batches} etcd revisions`)
  },
)

// A gateway works a session's queued writes out as one etcd transaction, each on the replica with
// the writes before it laid over (lib/server/etcd/overlay.ts). The first write of each step goes to
// etcd alone; the rest queue meanwhile and go together. Sets are sent at once, transactions once fn
// has run: a set creating a key, then transactions whose fn ran before that key existed (one read it,
// one enumerated the keys) and one patching a key the batch does not write; then a server action on
// a key set just before it.
test(
  "a write in a session's batch sees the writes before it; a transaction that read or enumerated what the batch wrote commits only once it has seen it",
  { skip },
  async (t) => {
    const { onA: writer, onB: reader } = await clientsOfTwo(t)
    const rounds = stress ? 100 : 5
    for (let round = 0; round < rounds; round++) {
      const p = `batch${round}/`
      // `first` exists already: writing it again creates no key, so only the batch does.
      await writer.state.update({ [`${p}doc`]: { n: 0 }, [`${p}first`]: -1 })
      const conflictsBefore = writer.metrics().conflicts
      const [, , sum, enumerated] = await Promise.all([
        writer.state.set(`${p}first`, 0),
        writer.state.set(`${p}fresh`, 1),
        writer.state.atomic((d: Record<string, number>) => (d[`${p}sum`] = (d[`${p}fresh`] ?? 0) + 10)),
        writer.state.atomic((d: Record<string, unknown>) => {
          const keys = Object.keys(d).filter((key) => key.startsWith(p))
          d[`${p}keys`] = keys.length
          return keys
        }),
        writer.state.atomic((d: Record<string, { n: number }>) => void (d[`${p}doc`]!.n += 1)),
      ])
      assert.equal(sum, 11, 'the transaction that read fresh before it existed ran again')
      assert.ok(enumerated.includes(`${p}fresh`), `the enumeration saw fresh: ${enumerated.join(', ')}`)
      assert.ok(writer.metrics().conflicts - conflictsBefore >= 2, 'both stale transactions conflicted')
      const [, , tags] = await Promise.all([
        writer.state.set(`${p}second`, 0),
        writer.state.set(`${p}list`, { tags: ['a'] }),
        writer.state.run('tag', `${p}list`, 'b'),
      ])
      assert.equal(tags, 2)
      await reader.state.sync()
      assert.equal(reader.state.get(`${p}sum`), 11)
      assert.equal(reader.state.get(`${p}keys`), enumerated.length)
      assert.deepEqual(reader.state.get(`${p}doc`), { n: 1 })
      assert.deepEqual(reader.state.get(`${p}list`), { tags: ['a', 'b'] })
    }
  },
)

// A gateway reads a transaction's request again when it works its batch out anew after a conflict:
// values it took from the request (frozen then) must read again the same.
test(
  'atomic writes of arrays and objects from clients of two gateways at once all commit',
  { skip },
  async (t) => {
    const { onA, onB } = await clientsOfTwo(t)
    const rounds = stress ? 200 : 20
    await Promise.all(
      [onA, onB].map(async (client, who) => {
        for (let i = 0; i < rounds; i++)
          await client.state.atomic((d: Record<string, unknown>) => {
            d['appended'] = [...((d['appended'] as string[] | undefined) ?? []), `${who}:${i}`]
            d['byWriter'] = { ...(d['byWriter'] as object | undefined), [`${who}`]: { last: [i] } }
          })
      }),
    )
    await onA.state.sync()
    const appended = onA.state.get('appended') as string[]
    assert.equal(appended.length, 2 * rounds)
    for (const who of [0, 1])
      assert.deepEqual(
        appended.filter((tag) => tag.startsWith(`${who}:`)),
        Array.from({ length: rounds }, (_, i) => `${who}:${i}`),
      )
    assert.deepEqual(onA.state.get('byWriter'), { 0: { last: [rounds - 1] }, 1: { last: [rounds - 1] } })
  },
)

// etcd takes at most 128 operations per transaction: a clear is one range deletion, not one per key.
test(
  'clear() of a scope deletes every key in it, far more than one transaction could name, as one revision; the other gateway sees each deletion',
  { skip },
  async (t) => {
    const { onA: writer, onB: reader } = await clientsOfTwo(t)
    const jobs = writer.state.scope('jobs/')
    const n = 300
    for (let i = 0; i < n; i += 100)
      await jobs.update(Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`${i + k}`, i + k])))
    await writer.state.update({ 'jobs-done': true, job: 'kept' })
    await reader.state.sync()
    const deleted = new Set<string>()
    const revisions = new Set<number>()
    const watching = (async () => {
      for await (const change of reader.state.watch({ prefix: 'jobs/' })) {
        if (!change.deleted) continue
        deleted.add(change.key)
        revisions.add(change.revision)
        if (deleted.size === n) return
      }
    })()
    const cleared = await jobs.clear()
    assert.equal(jobs.size, 0)
    await watching
    assert.deepEqual([...revisions], [cleared], 'one revision, the one clear() resolved with')
    await reader.state.sync()
    assert.deepEqual([...reader.state.keys()].sort(), ['job', 'jobs-done'], 'keys outside the scope stay')
    assert.equal(await jobs.clear(), 0, 'nothing left: no commit')
    await writer.state.clear()
    await reader.state.sync()
    assert.equal(reader.state.size, 0)
  },
)

// A gateway reads the state from etcd in pages of 1,000 keys, all at one revision.
test('a gateway started on a state of several pages of keys holds all of it', { skip }, async (t) => {
  const options = stateOptions()
  const [first] = await gateways(t, 1, options)
  const writer = await client(t, first!.address)
  const n = 2_500
  for (let i = 0; i < n; i += 100)
    await writer.state.update(
      Object.fromEntries(
        Array.from({ length: 100 }, (_, k) => [`page/${String(i + k).padStart(4, '0')}`, i + k]),
      ),
    )
  await writer.state.set('leased', 'x', { ttl: 60_000 })
  const [late] = await gateways(t, 1, options)
  const reader = await client(t, late!.address)
  // etcd's revision: past the last write, as starting a gateway writes keys of its own.
  assert.ok(reader.state.revision >= writer.state.revision)
  assert.equal(reader.state.size, n + 1)
  assert.deepEqual({ ...reader.state.snapshot() }, { ...writer.state.snapshot() })
})

test('sync() on one gateway covers what was written through another', { skip }, async (t) => {
  const { onA: writer, onB: reader } = await clientsOfTwo(t)
  for (let i = 1; i <= 50; i++) {
    await writer.state.set('synced', i)
    await reader.state.sync()
    assert.equal(reader.state.get('synced'), i)
  }
})

for (const how of ['increment', 'run', 'atomic'] as const) {
  test(`4 processes on 2 gateways × ${k} ${how} of one key count exactly 4 × ${k}`, { skip }, async (t) => {
    const [a, b] = await gateways(t, 2)
    const procs = await Promise.all(
      [a, a, b, b].map((server, i) => clientProcess(t, server!.address, `worker-${i}`)),
    )
    await Promise.all(procs.map((p) => p.call('incrementMany', how, 'n', k)))
    const auditor = await client(t, b!.address)
    await auditor.state.sync()
    assert.equal(auditor.state.get('n'), 4 * k)
  })
}

test('a bank invariant holds in every revision, audited from a third gateway', { skip }, async (t) => {
  const [a, b, c] = await gateways(t, 3)
  const setup = await client(t, a!.address)
  const accounts = 10
  await setup.state.update(Object.fromEntries(Array.from({ length: accounts }, (_, i) => [`acct:${i}`, 100])))
  const auditor = await clientProcess(t, c!.address, 'auditor')
  await auditor.call('sync')
  const checking = auditor.call<number>('checkBank', accounts, 100 * accounts, 'done')
  const procs = await Promise.all(
    [a, a, b, b].map((server, i) => clientProcess(t, server!.address, `worker-${i}`)),
  )
  await Promise.all(procs.map((p) => p.call('transfers', accounts, k)))
  await setup.state.set('done', true)
  assert.ok((await checking) > 0, 'the auditor saw the transfers')
})

// etcd is shared: anything may write under the prefix. What no zstate client could read (a key that is
// not UTF-8, a value outside the value model, a malformed lease) is skipped with a warning, by a
// running gateway's watch and by a gateway that starts on it; it crashed every gateway, or stalled
// every client at its commit.
test(
  'keys and values under the prefix that no client could read are skipped, with a warning',
  { skip },
  async (t) => {
    const options = stateOptions()
    const { prefix } = options.etcd!
    const warnings: string[] = []
    const onWarning = (warning: Error): number => warnings.push(warning.message)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const [running] = await gateways(t, 1, options)
    const onRunning = await client(t, running!.address)
    const etcd = new Etcd3({ hosts: cluster().endpoints })
    t.after(() => etcd.close())
    const key = (name: string | Buffer): Buffer =>
      Buffer.concat([Buffer.from(`${prefix}k/`), Buffer.from(name)])
    const bad: [Buffer, Buffer][] = [
      [key('invalid-date'), Buffer.from([0x00, 0xd4, 0xff, 0x00])], // a timestamp holding no date
      [key('bad-lease'), Buffer.from([0x01, 0x92, 0x05, 0xa1, 0x78])], // [5, 'x']: 5 is no lease
      [key('not-a-value'), Buffer.from([0x00, 0xc1])], // a byte MessagePack never uses
      [key(Buffer.from([0xff, 0xfe])), Buffer.from([0x00, 0x01])], // a key that is not UTF-8
    ]
    for (const [name, value] of bad) await etcd.put(name).value(value)
    await etcd.put(key('after')).value(Buffer.from([0x00, 0x2a])) // 42, well formed
    assert.equal(await onRunning.state.whenEqual('after', 42, { timeout: 10_000 }), 42)
    assert.deepEqual(Object.keys(onRunning.state.snapshot()), ['after'])
    assert.equal((await onRunning.state.set('written', 1)) > 0, true, 'the gateway writes on')
    const [started] = await gateways(t, 1, options)
    const onStarted = await client(t, started!.address)
    assert.deepEqual({ ...onStarted.state.snapshot() }, { after: 42, written: 1 })
    const skippedWarnings = warnings.filter((message) => /holds no zstate key and value/.test(message))
    // Each of the four, once by the running gateway's watch and once by the one that started on them
    // (not again for meeting them in the history it replays).
    for (const [name] of bad) {
      const named = skippedWarnings.filter((message) => message.includes(JSON.stringify(name.toString())))
      assert.equal(named.length, 2, `${name.toString()}: ${named.join(' | ')}`)
    }
  },
)
