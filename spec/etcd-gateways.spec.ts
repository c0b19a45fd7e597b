// Several zstate servers as gateways to one state held by a real etcd cluster (docs/scale-out.md).
import assert from 'node:assert/strict'
import { after, before, test, type TestContext } from 'node:test'
import {
  connect,
  createContext,
  isZStateError,
  startServer,
  type Client,
  type Server,
  type ServerOptions,
  type WorkerContext,
} from '../lib/index.ts'
import { Etcd3 } from 'etcd3'
import { etcdSkipReason, freePorts, startEtcdCluster, type EtcdCluster } from './fixtures/etcd-cluster.ts'
import { clientProcess, fixture, stress, type Fixture } from './support.ts'
import { until } from './process-support.ts'

const skip = etcdSkipReason('etcd-gateways.spec')
const actions = new URL('./fixtures/actions.mjs', import.meta.url).href
const sequence = stress ? 100_000 : 2_000
const k = stress ? 2_000 : 50

let cluster: EtcdCluster
let prefixes = 0

before(async () => {
  if (skip === undefined) cluster = await startEtcdCluster({ members: 3 })
})
after(async () => {
  await cluster?.close()
})

// Options for gateways of a state of the test's own: a fresh prefix in the shared cluster.
function stateOptions(etcd = cluster): ServerOptions {
  return {
    address: 'tcp://127.0.0.1:*',
    heartbeatMs: 100,
    actions,
    etcd: { endpoints: etcd.endpoints, prefix: `spec${process.pid}-${++prefixes}/` },
  }
}

async function gateways(t: TestContext, n: number, options = stateOptions()): Promise<Server[]> {
  const servers: Server[] = []
  for (let i = 0; i < n; i++) servers.push(await startServer(options))
  t.after(() => Promise.all(servers.map((server) => server.close())))
  return servers
}

// A client closed when the test ends. Its gateways close in a hook of their own, which was added
// earlier and so runs after this one.
async function client(t: TestContext, address: string | string[], options = {}): Promise<Client<any>> {
  const c = await connect<any>(address, options)
  t.after(() => c.close())
  return c
}

// A client's status events as they come, and a promise of the first of one type.
function statusOf(c: Client<any>): { events: string[]; reached: (type: string) => Promise<void> } {
  const events: string[] = []
  const waiting: { type: string; resolve: () => void }[] = []
  void (async () => {
    for await (const { type } of c.status()) {
      events.push(type)
      for (const waiter of waiting) if (waiter.type === type) waiter.resolve()
    }
  })()
  return {
    events,
    reached: (type) =>
      events.includes(type) ? Promise.resolve() : new Promise((resolve) => waiting.push({ type, resolve })),
  }
}

// A gateway in a process of its own, which a test can SIGKILL.
async function gatewayProcess(
  t: TestContext,
  options: ServerOptions,
): Promise<{ process: Fixture; address: string }> {
  const f = fixture(t, 'server', [JSON.stringify(options)])
  const { address } = (await f.event(1)) as { address: string }
  return { process: f, address }
}

test(
  `${sequence} writes through gateway A reach a watcher on gateway B in order, none skipped, each read back at once by its writer`,
  { skip },
  async (t) => {
    const [a, b] = await gateways(t, 2)
    const writer = await client(t, a!.address)
    const reader = await client(t, b!.address)
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
    assert.equal(a!.epoch, b!.epoch, 'gateways of one state share its epoch')
  },
)

test(
  "a session's writes in flight commit in batches, in order: every value gets a revision, every write settles once",
  { skip },
  async (t) => {
    const [a, b] = await gateways(t, 2)
    const writer = await client(t, a!.address)
    const watcher = await client(t, b!.address)
    const n = stress ? 20_000 : 1_000
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

test('sync() on one gateway covers what was written through another', { skip }, async (t) => {
  const [a, b] = await gateways(t, 2)
  const writer = await client(t, a!.address)
  const reader = await client(t, b!.address)
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

test(
  'a client given several gateways moves to the next when one dies: no reset, every write settles once',
  { skip },
  async (t) => {
    const options = stateOptions()
    const doomed = await gatewayProcess(t, options)
    const [survivor] = await gateways(t, 1, options)
    const c = await client(t, [doomed.address, survivor!.address], { heartbeatTimeout: 500 })
    const { events } = statusOf(c)
    const written: number[] = []
    const failed: number[] = []
    let i = 0
    const writing = (async () => {
      while (!events.includes('reconnected') || written.length < 20 + failed.length) {
        const n = ++i
        try {
          await c.state.set(`w/${n}`, n)
          written.push(n)
        } catch (error) {
          assert.ok(isZStateError(error) && error.code === 'ERR_DISCONNECTED', `write ${n}: ${String(error)}`)
          failed.push(n)
        }
        if (n === 20) await doomed.process.stop() // SIGKILL, mid-stream
      }
    })()
    await writing
    assert.equal(c.address, survivor!.address)
    assert.deepEqual(events.slice(0, 2), ['disconnected', 'reconnected'])
    assert.ok(!events.includes('reset'), `events: ${events.join(', ')}`)
    const fresh = await client(t, survivor!.address)
    for (const n of written) assert.equal(fresh.state.get(`w/${n}`), n, `acknowledged write ${n} is there`)
    assert.ok(failed.length <= 1, `at most the write in flight fails: ${failed.join(', ')}`)
  },
)

test(
  "ephemeral keys go with their client's session, and with a dead gateway's lease",
  { skip },
  async (t) => {
    const options = stateOptions()
    const doomed = await gatewayProcess(t, options)
    const [observerGateway] = await gateways(t, 1, options)
    const observer = await client(t, observerGateway!.address)
    const owner = await connect(doomed.address)
    await owner.state.set('presence/a', 'here', { ephemeral: true })
    await owner.state.set('presence/b', 'here', { ephemeral: true })
    await observer.state.whenEqual('presence/b', 'here', { timeout: 5000 })
    const survivor = await client(t, doomed.address)
    await survivor.state.set('presence/c', 'here', { ephemeral: true })
    await owner.close()
    await observer.state.whenDeleted('presence/a', { timeout: 5000 })
    assert.equal(observer.state.get('presence/b'), undefined, 'both keys went in one revision')
    // The gateway dies without a word: etcd ends its lease (2 s with 100 ms heartbeats) and the key.
    await doomed.process.stop()
    const started = Date.now()
    await observer.state.whenDeleted('presence/c', { timeout: 10_000 })
    t.diagnostic(`lease ended ${Date.now() - started} ms after the gateway died`)
  },
)

test('ttl keys expire through etcd once, whichever gateway sweeps', { skip }, async (t) => {
  const [a, b] = await gateways(t, 2)
  const writer = await client(t, a!.address)
  const watcher = await client(t, b!.address)
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

test(
  "a client moves to a gateway that started after its last commit: it resumes from etcd's history, no reset",
  { skip },
  async (t) => {
    const options = stateOptions()
    const first = await gatewayProcess(t, options)
    const [port] = await freePorts(1)
    const c = await client(t, [first.address, `tcp://127.0.0.1:${port}`], { heartbeatTimeout: 500 })
    const { events, reached } = statusOf(c)
    const etcd = new Etcd3({ hosts: cluster.endpoints })
    t.after(() => etcd.close())
    const revisions: number[] = []
    for (let i = 1; i <= 5; i++) {
      revisions.push(await c.state.set('n', i))
      // Writes beyond the prefix take etcd revisions too: the state's are not consecutive.
      await etcd.put(`elsewhere-${process.pid}/x`).value(String(i))
    }
    assert.ok(revisions.every((revision, i) => i === 0 || revision > revisions[i - 1]! + 1))
    const [late] = await gateways(t, 1, { ...options, address: `tcp://127.0.0.1:${port}` })
    assert.ok(late!.revision > revisions.at(-1)!, 'the late gateway read the state after the last commit')
    await first.process.stop()
    await reached('reconnected')
    assert.deepEqual(events, ['disconnected', 'reconnected'])
    assert.equal(await c.state.increment('n'), 6)
    const fresh = await client(t, late!.address)
    assert.equal(fresh.state.get('n'), 6)
  },
)

test('a value etcd refuses as too large is ERR_TOO_LARGE, and the session writes on', { skip }, async (t) => {
  const [a] = await gateways(t, 1)
  const c = await client(t, a!.address)
  // Over etcd's request limit (1.5 MiB by default), and over its gRPC message limit (2 MiB).
  for (const bytes of [1.7 * 2 ** 20, 3 * 2 ** 20])
    await assert.rejects(
      c.state.set('big', 'x'.repeat(bytes)),
      (error: unknown) => isZStateError(error) && error.code === 'ERR_TOO_LARGE',
    )
  // More keys in one write than etcd takes operations in one transaction (128 by default).
  await assert.rejects(
    c.state.update(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`many/${i}`, i]))),
    (error: unknown) =>
      isZStateError(error) && error.code === 'ERR_TOO_LARGE' && /max-txn-ops/.test(error.message),
  )
  assert.ok((await c.state.set('small', 1)) > 0)
  assert.equal(c.state.get('big'), undefined)
})

test('a watch from a revision older than the gateway keeps is ERR_COMPACTED', { skip }, async (t) => {
  const [a] = await gateways(t, 1, { ...stateOptions(), history: { revisions: 10 } })
  const c = await client(t, a!.address)
  const first = await c.state.set('x', 0)
  for (let i = 1; i <= 20; i++) await c.state.set('x', i)
  await assert.rejects(
    (async () => {
      for await (const _ of c.state.watch({ fromRevision: first })) break
    })(),
    (error: unknown) => isZStateError(error) && error.code === 'ERR_COMPACTED',
  )
})

test(
  'one etcd member down: writes go on; two down: ERR_UNAVAILABLE while reads go on; one back: writes resume',
  { skip },
  async (t) => {
    const own = await startEtcdCluster({ members: 3 })
    t.after(() => own.close())
    const options = stateOptions(own)
    const [a] = await gateways(t, 1, options)
    const c = await client(t, a!.address)
    await c.state.set('k', 1)
    await own.kill(0)
    assert.ok((await c.state.set('k', 2)) > 0)
    await own.kill(1)
    await assert.rejects(
      c.state.set('lost', 3),
      (error: unknown) => isZStateError(error) && error.code === 'ERR_UNAVAILABLE',
    )
    // Known down now: the next write is refused unsent (no deadline waited out), nothing of it applied.
    await assert.rejects(
      c.state.set('unsent', 3),
      (error: unknown) =>
        isZStateError(error) && error.code === 'ERR_UNAVAILABLE' && /was not sent/.test(error.message),
    )
    assert.equal(c.state.get('k'), 2, 'reads go on from the replica')
    await own.restart(1)
    await own.waitHealthy(1)
    assert.ok((await c.state.set('k', 4)) > 0)
    assert.equal(c.state.get('k'), 4)
    assert.equal(c.state.get('unsent'), undefined)
    // Read through etcd itself: the write refused unsent left nothing there either ('lost', sent
    // without an answer, may or may not have committed).
    const raw = new Etcd3({ hosts: own.endpoints })
    t.after(() => raw.close())
    assert.ok(
      !(await raw.getAll().prefix(`${options.etcd!.prefix}k/`).keys()).includes(
        `${options.etcd!.prefix}k/unsent`,
      ),
    )
  },
)

test(
  'services and topics reach across gateways: a provider on A serves callers on B, what is published on either reaches both once',
  { skip },
  async (t) => {
    const [a, b] = await gateways(t, 2)
    const providerClient = await client(t, a!.address)
    const caller = await client(t, b!.address)
    const provider = await providerClient.provide('math', {
      add: (x: number, y: number) => x + y,
      fail: () => {
        throw new TypeError('no such sum')
      },
    })
    await caller.waitForService('math', { timeout: 10_000 })
    assert.equal(await caller.call('math', 'add', [1, 2]), 3)
    const listed = await caller.services()
    assert.deepEqual(
      listed.map((service) => [service.name, service.methods]),
      [['math', ['add', 'fail']]],
    )
    await assert.rejects(
      caller.call('math', 'fail'),
      (error: unknown) =>
        isZStateError(error) &&
        error.code === 'ERR_REMOTE' &&
        (error as any).remoteName === 'TypeError' &&
        error.message === 'no such sum',
    )
    // Topics: each side publishes; every subscriber gets each message once, in order per publisher.
    const onA = providerClient.subscribe<number>('news/')
    const onB = caller.subscribe<number>('news/')
    t.after(() => (onA.close(), onB.close()))
    await Promise.all([onA.ready, onB.ready])
    const collect = async (subscription: AsyncIterable<{ topic: string; message: number }>, n: number) => {
      const got: string[] = []
      for await (const { topic, message } of subscription) {
        got.push(`${topic}:${message}`)
        if (got.length === n) return got
      }
      return got
    }
    const gotA = collect(onA, 6)
    const gotB = collect(onB, 6)
    for (let i = 1; i <= 3; i++) {
      await providerClient.publish('news/a', i)
      await caller.publish('news/b', i)
    }
    for (const got of await Promise.all([gotA, gotB])) {
      assert.deepEqual(
        got.filter((m) => m.startsWith('news/a')),
        ['news/a:1', 'news/a:2', 'news/a:3'],
      )
      assert.deepEqual(
        got.filter((m) => m.startsWith('news/b')),
        ['news/b:1', 'news/b:2', 'news/b:3'],
      )
    }
    // Withdrawn on A: gone from B as well.
    await provider.close()
    await until(async () => (await caller.services()).length === 0, 'the service is gone from B', 10_000)
    await assert.rejects(
      caller.call('math', 'add', [1, 2]),
      (error: unknown) => isZStateError(error) && error.code === 'ERR_NO_PROVIDER',
    )
  },
)

test(
  'a context over several gateways: its children join them all, and write through them',
  { skip },
  async (t) => {
    const [a, b] = await gateways(t, 2)
    const ctx = await createContext<Record<string, unknown>>({ address: [a!.address, b!.address] })
    t.after(() => ctx.close())
    const child = ctx.spawn(async (c: WorkerContext<Record<string, unknown>>) => {
      await c.state.increment('children')
      return process.env.ZSTATE_ADDRESS
    })
    assert.equal(await child.wait(), `${a!.address},${b!.address}`)
    const reader = await client(t, b!.address)
    await reader.state.sync()
    assert.equal(reader.state.get('children'), 1)
  },
)

test('startServer refuses etcd with a data dir, and endpoints that are not URLs', async () => {
  await assert.rejects(
    startServer({ etcd: { endpoints: ['http://127.0.0.1:1'] }, dataDir: '/tmp/x' }),
    /etcd and dataDir exclude each other/,
  )
  await assert.rejects(startServer({ etcd: { endpoints: ['127.0.0.1:2379'] } }), /etcd.endpoints must be/)
  await assert.rejects(startServer({ etcd: { endpoints: [] } }), /etcd.endpoints must be/)
})
