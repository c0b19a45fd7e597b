// What other etcd clients and etcd itself do under a gateway's prefix (docs/scale-out.md): a
// registration that ends, the gateways' own keys deleted by hand, values no zstate client can read,
// a watch that etcd cancels. Each of these once left a gateway wedged or silent (an outside audit).
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Etcd3 } from 'etcd3'
import { serverStats } from '../lib/client/server-stats.ts'
import { processTable } from '../lib/process/table.ts'
import { assertBuilt, CliProcess, cliEnv } from './fixtures/cli-run.ts'
import { startEtcdCluster } from './fixtures/etcd-cluster.ts'
import { client, etcdGateways } from './fixtures/etcd-gateways.ts'
import { until } from './process-support.ts'

const { skip, cluster, gateways, stateOptions } = etcdGateways('etcd-gateways-outside.spec', {
  heartbeatMs: 500,
})

function etcdClient(t: TestContext, endpoints = cluster().endpoints): Etcd3 {
  const etcd = new Etcd3({ hosts: endpoints })
  t.after(() => etcd.close())
  return etcd
}

// etcd writes outside every state's prefix, in one test.
const OUTSIDE_PUTS = 2_000

// The etcd prefix of a state, from its gateways' options.
const prefixOf = (options: ReturnType<typeof stateOptions>): string => options.etcd!.prefix!

// Two gateways of one state (a fresh one unless `options` name one), and a client of each.
async function twoGateways(t: TestContext, options = stateOptions()) {
  const [a, b] = await gateways(t, 2, options)
  return { options, onA: await client(t, a!.address), onB: await client(t, b!.address) }
}

test(
  'a gateway whose registration ended (its key deleted, its lease revoked) registers again: calls and messages reach across once more',
  { skip },
  async (t) => {
    const { options, onA, onB } = await twoGateways(t)
    await onA.provide('echo', { back: (x: unknown) => x })
    const reached = async (label: string): Promise<void> => {
      await until(
        () =>
          onB.call('echo', 'back', [label], { timeout: 1000 }).then(
            (x) => x === label,
            () => false,
          ),
        `a call from B reaches A's provider (${label})`,
        20_000,
      )
    }
    await reached('at first')
    const etcd = etcdClient(t)
    const registered = `${prefixOf(options)}_gw/`
    const registrations = async (): Promise<{ key: string; lease: string }[]> =>
      (await etcd.getAll().prefix(registered).exec()).kvs.map((kv) => ({
        key: kv.key.toString(),
        lease: kv.lease,
      }))
    assert.equal((await registrations()).length, 2, 'both gateways registered')
    for (const round of ['deleted', 'revoked']) {
      // Every registration goes: the other gateways forget each of them at once.
      const before = await registrations()
      if (round === 'deleted') await etcd.delete().prefix(registered).exec()
      else for (const { lease } of before) await etcd.leaseClient.leaseRevoke({ ID: lease })
      await until(
        async () => {
          const now = await registrations()
          return now.length === 2 && now.every(({ lease }) => !before.some((old) => old.lease === lease))
        },
        `both gateways registered again after their keys were ${round}`,
        20_000,
      )
      await reached(`after the registrations were ${round}`)
      // Topics too: what A's client publishes reaches B's subscriber.
      const news = onB.subscribe<number>(`news-${round}/`)
      const received: number[] = []
      void (async () => {
        for await (const { message } of news) received.push(message)
      })()
      await until(
        async () => {
          await onA.publish(`news-${round}/x`, received.length)
          return received.length > 0
        },
        `a message published on A reaches B (${round})`,
        20_000,
      )
      news.close()
    }
  },
)

test(
  "the gateways' own keys (fences, key-space and origin keys) deleted by hand: writes go on; a closed gateway leaves no fence",
  { skip },
  async (t) => {
    const options = stateOptions()
    const prefix = prefixOf(options)
    const etcd = etcdClient(t)
    const fences = async (): Promise<number> => (await etcd.getAll().prefix(`${prefix}_g/`).keys()).length
    {
      const [closing] = await gateways(t, 1, options)
      assert.equal(await fences(), 1, 'a running gateway has its fence')
      const closed = closing!.closed
      await closing!.close()
      assert.equal(await closed, undefined, 'closed by close(): no cause')
      assert.equal(await fences(), 0, 'close() deletes its fence')
    }
    const { onA, onB } = await twoGateways(t, options)
    await onA.state.set('before', 1)
    await etcd.delete().prefix(`${prefix}_g/`).exec()
    await etcd.delete().key(`${prefix}_ks`).exec()
    await etcd.delete().key(`${prefix}_tx`).exec()
    // Each kind of write, through both gateways, within the request timeout: none meets a conflict
    // that never ends.
    for (const c of [onA, onB]) {
      await c.state.set('plain', c === onA ? 'a' : 'b')
      assert.equal(typeof (await c.state.increment('counter')), 'number')
      await c.state.atomic((draft: Record<string, unknown>) => {
        draft[`keys-${c === onA ? 'a' : 'b'}`] = Object.keys(draft).length
      })
      assert.equal(await c.state.delete('plain'), true)
    }
    await onB.state.sync()
    assert.equal(onB.state.get('counter'), 2)
    assert.deepEqual(onA.state.get('keys-a'), onB.state.get('keys-a'))
  },
)

test(
  'a key whose value no zstate client can read (written by another etcd client) is absent to zstate, and every write of it works at once',
  { skip },
  async (t) => {
    const { options, onA, onB } = await twoGateways(t)
    const etcd = etcdClient(t)
    const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff])
    // Where a key's value lies in etcd (lib/server/etcd/layout.ts): <prefix>k/<key>.
    const raw = (key: string): string => `${prefixOf(options)}k/${key}`
    const spoil = async (key: string): Promise<void> => {
      await etcd.put(raw(key)).value(garbage)
    }
    // A key zstate held becomes absent when spoiled, on every gateway.
    await onA.state.set('held', 1)
    await onB.state.sync()
    await spoil('held')
    await until(() => !onA.state.has('held') && !onB.state.has('held'), 'the spoiled key is gone from both')
    const started = Date.now()
    await spoil('s')
    assert.equal(await onA.state.delete('s'), false, 'absent to zstate: nothing to delete')
    await onA.state.set('s', 'mine')
    assert.equal(onA.state.get('s'), 'mine')
    await spoil('i')
    assert.equal(await onB.state.increment('i', 5), 5, 'counts from 0')
    await spoil('c')
    assert.equal(await onA.state.compareAndSet('c', undefined, 'set'), true, 'matches an absent key')
    await spoil('t')
    await onB.state.atomic((draft: Record<string, unknown>) => {
      draft['t'] = draft['t'] === undefined ? 'was absent' : 'was there'
    })
    assert.equal(onB.state.get('t'), 'was absent')
    await onA.state.sync()
    assert.deepEqual(
      ['s', 'i', 'c', 't'].map((key) => onA.state.get(key)),
      ['mine', 5, 'set', 'was absent'],
    )
    // Each of them once met conflicts for 2.5 s (atomic: minutes) before ERR_CONFLICT.
    assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms for five writes`)
    // The etcd values are zstate's now.
    assert.notDeepEqual((await etcd.get(raw('s')).buffer())!, garbage)
  },
)

test(
  'a gateway whose watch etcd cancels (compacted past it) stops: zstate serve exits 1 saying why',
  { skip },
  async (t) => {
    assertBuilt()
    // One member of its own: the test restarts it under the gateway.
    await using etcd = await startEtcdCluster({ members: 1 })
    const raw = etcdClient(t, etcd.endpoints)
    const prefix = `cancelled${process.pid}/`
    // An endpoint URL may end with a slash (it failed as if etcd were down).
    const cli = new CliProcess(
      ['serve', '-a', 'tcp://127.0.0.1:*', '--etcd', `${etcd.endpoints[0]!}/`, '--etcd-prefix', prefix],
      cliEnv(),
    )
    t.after(() => cli.kill())
    await cli.firstLine()
    // Paused, the gateway cannot follow: its watch stream breaks with the member's restart, and the
    // revisions it had yet to receive are compacted before it asks for them again.
    cli.child.kill('SIGSTOP')
    try {
      await etcd.kill(0)
      await etcd.restart(0)
      for (let i = 0; i < 5; i++) await raw.put(`${prefix}k/x`).value(String(i))
      const { header } = await raw.get(`${prefix}k/x`).exec()
      await raw.kv.compact({ revision: header.revision, physical: true })
    } finally {
      cli.child.kill('SIGCONT')
    }
    const exit = await cli.exited
    assert.deepEqual(exit, { code: 1, signal: null }, cli.stderr)
    assert.match(
      cli.stderr,
      /zstate: the server stopped: the etcd watch failed \(.*compacted.*\): this gateway stopped/,
    )
  },
)

test(
  "a gateway's commits/s counts its state's commits, not the etcd revisions written outside its prefix",
  { skip },
  async (t) => {
    // A fresh gateway: its first readings are no burst either.
    const [gateway] = await gateways(t, 1)
    const c = await client(t, gateway!.address)
    const etcd = etcdClient(t)
    const started = performance.now()
    for (let i = 0; i < OUTSIDE_PUTS; i += 100)
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          etcd
            .put(`outside-zstate/${i + j}`)
            .value('x')
            .exec(),
        ),
      )
    await c.state.set('one', 1)
    const { commitsPerSecond } = await processTable(c)
    const seconds = (performance.now() - started) / 1000
    const { commits } = await serverStats(c)
    // Over a span of at least a second, the rate is at most the commits made; etcd's revisions
    // grew at OUTSIDE_PUTS / seconds.
    assert.ok(
      commitsPerSecond <= commits && commits < 10,
      `${commitsPerSecond} commits/s after ${commits} commits (the outside puts: ${Math.round(OUTSIDE_PUTS / seconds)}/s)`,
    )
  },
)
