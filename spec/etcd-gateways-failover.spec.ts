// Several zstate servers as gateways to one state held by a real etcd cluster (docs/scale-out.md):
// failover between gateways, ephemeral keys, etcd's limits and outages, services and topics across
// gateways, contexts over several gateways. ttl keys: etcd-gateways-leases.spec.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Etcd3, Range } from 'etcd3'
import {
  createContext,
  isZStateError,
  startServer,
  connect,
  type Server,
  type WorkerContext,
} from '../lib/index.ts'
import { freePorts, startEtcdCluster } from './fixtures/etcd-cluster.ts'
import { client, etcdGateways, gatewayProcess, statusOf } from './fixtures/etcd-gateways.ts'
import { until } from './process-support.ts'
import { warnings } from './storage-support.ts'
import { isEtcdEndpoint } from '../lib/protocol/address.ts'

const { skip, cluster, stateOptions, gateways, clientsOfTwo, doomedAndLive, onOwnCluster } = etcdGateways(
  'etcd-gateways-failover.spec',
)

test(
  'a client given several gateways moves to the next when one dies: no reset, every write settles once',
  { skip },
  async (t) => {
    const { doomed, live: survivor } = await doomedAndLive(t)
    const c = await client(t, [doomed.address, survivor.address], { heartbeatTimeout: 500 })
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
    assert.equal(c.address, survivor.address)
    assert.deepEqual(events.slice(0, 2), ['disconnected', 'reconnected'])
    assert.ok(!events.includes('reset'), `events: ${events.join(', ')}`)
    const fresh = await client(t, survivor.address)
    for (const n of written) assert.equal(fresh.state.get(`w/${n}`), n, `acknowledged write ${n} is there`)
    assert.ok(failed.length <= 1, `at most the write in flight fails: ${failed.join(', ')}`)
  },
)

test(
  "ephemeral keys go with their client's session, and with a dead gateway's lease",
  { skip },
  async (t) => {
    const { doomed, live: observerGateway } = await doomedAndLive(t)
    const observer = await client(t, observerGateway.address)
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

test(
  "a client moves to a gateway that started after its last commit: it resumes from etcd's history, no reset",
  { skip },
  async (t) => {
    const options = stateOptions()
    const first = await gatewayProcess(t, options)
    const [port] = await freePorts(1)
    const c = await client(t, [first.address, `tcp://127.0.0.1:${port}`], { heartbeatTimeout: 500 })
    const { events, reached } = statusOf(c)
    const etcd = new Etcd3({ hosts: cluster().endpoints })
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
    const { own, options, c } = await onOwnCluster(t)
    await c.state.set('k', 1)
    await own.kill(0)
    assert.ok((await c.state.set('k', 2)) > 0)
    await own.kill(1)
    await assert.rejects(
      c.state.set('lost', 3),
      (error: unknown) => isZStateError(error) && error.code === 'ERR_UNAVAILABLE',
    )
    // Known down now: each later write is refused unsent, nothing of it applied, once etcd has not
    // answered for 2 s (docs/scale-out.md). They took 5–6 s: the probe's read met a member's circuit
    // breaker half open, and waited for its test request, whose deadline is a write's 5 s.
    for (let write = 0; write < 3; write++) {
      const started = Date.now()
      await assert.rejects(
        c.state.set('unsent', 3),
        (error: unknown) =>
          isZStateError(error) && error.code === 'ERR_UNAVAILABLE' && /was not sent/.test(error.message),
      )
      const took = Date.now() - started
      assert.ok(took < 4000, `refused unsent after ${took} ms, not after about 2 s`)
    }
    // Writes one session queued meanwhile are refused together, not each after a question of its own
    // in turn: ten increments of one key in flight went one every 2 s, so with a request timeout of
    // 8 s the later ones timed out (their outcome unknown), and committed once etcd was back.
    const queued = await client(t, c.address, { requestTimeout: 8_000 })
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => queued.state.increment('hot')))
    for (const outcome of outcomes)
      assert.ok(
        outcome.status === 'rejected' &&
          isZStateError(outcome.reason) &&
          outcome.reason.code === 'ERR_UNAVAILABLE' &&
          /was not sent/.test(outcome.reason.message),
        `refused unsent: ${String(outcome.status === 'rejected' ? outcome.reason : outcome.value)}`,
      )
    assert.equal(c.state.get('k'), 2, 'reads go on from the replica')
    await own.restart(1)
    await own.waitHealthy(1)
    assert.ok((await c.state.set('k', 4)) > 0)
    assert.equal(c.state.get('k'), 4)
    assert.equal(c.state.get('unsent'), undefined)
    await queued.state.sync()
    assert.equal(queued.state.get('hot'), undefined, 'no refused increment committed later')
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

// A gateway that writes nothing while etcd loses its quorum learns of it all the same: its member that
// answers knows no leader. Before, its first write was sent and waited out the transaction's deadline
// and the fence's (15 s), where the API promises a refusal once etcd has had no quorum for 5 s.
test(
  'two etcd members down: a gateway that has not written meanwhile learns of it (no leader) and refuses its next write unsent',
  { skip },
  async (t) => {
    const warned = warnings(t)
    const { own, c } = await onOwnCluster(t)
    await c.state.set('k', 1)
    await own.kill(0)
    await own.kill(1)
    await until(
      () => warned.list.some(({ message }) => /has known a leader for 3 s \(no quorum\)/.test(message)),
      'the gateway notices that etcd has no leader',
      15_000,
    )
    const started = Date.now()
    await assert.rejects(
      c.state.set('k', 2),
      (error: unknown) =>
        isZStateError(error) && error.code === 'ERR_UNAVAILABLE' && /was not sent/.test(error.message),
    )
    t.diagnostic(`refused unsent after ${Date.now() - started} ms`)
    await own.restart(1)
    await own.waitHealthy(1)
    await until(async () => (await c.state.set('k', 3).catch(() => 0)) > 0, 'writes go through again')
    assert.equal(c.state.get('k'), 3)
  },
)

// From an outside audit: closing a gateway while etcd has no quorum waited out the deadlines of its
// goodbyes to etcd (the fence key, the leases), about 10 s, all that systemd or docker give a stop.
test('a gateway closed while etcd has no quorum closes within a few seconds', { skip }, async (t) => {
  const warned = warnings(t)
  const own = await startEtcdCluster({ members: 3 })
  t.after(() => own.close())
  const gateway = await startServer(stateOptions(own))
  const c = await connect(gateway.address)
  await c.state.set('k', 1, { ephemeral: true }) // a session lease to revoke
  await c.close()
  await own.kill(0)
  await own.kill(1)
  await until(
    () => warned.list.some(({ message }) => /\(no quorum\)/.test(message)),
    'the gateway notices that etcd has no leader',
    15_000,
  )
  const started = Date.now()
  await gateway.close()
  const took = Date.now() - started
  assert.ok(took < 5000, `closed after ${took} ms`)
})

// Members that hang (SIGSTOP: a partition, a stalled disk) answer nothing, where killed ones refuse at
// once. Each request must still end at its deadline: etcd3 sent a request again up to 3 times, each
// with 5 s of its own, so the first write outlived the client's 30 s request timeout (ERR_TIMEOUT).
test(
  'two etcd members hung: the first write is refused with ERR_UNAVAILABLE within its deadlines, writes resume',
  { skip },
  async (t) => {
    const own = await startEtcdCluster({ members: 3 })
    const hung = [own.members[0]!.pid!, own.members[1]!.pid!]
    const resume = (): void => hung.forEach((pid) => process.kill(pid, 'SIGCONT'))
    t.after(async () => {
      resume()
      await own.close()
    })
    const options = stateOptions(own)
    const [a] = await gateways(t, 1, options)
    const c = await client(t, a!.address)
    // Another session, whose first write of the outage writes nothing: a compareAndSet that does not
    // match (sent again and again, it waited out the client's timeout).
    const other = await client(t, a!.address)
    await c.state.set('k', 1)
    hung.forEach((pid) => process.kill(pid, 'SIGSTOP'))
    const started = Date.now()
    const refusedAfter = async (write: Promise<unknown>, message: RegExp): Promise<number> => {
      await assert.rejects(
        write,
        (error: unknown) =>
          isZStateError(error) && error.code === 'ERR_UNAVAILABLE' && message.test(error.message),
      )
      return Date.now() - started
    }
    // Sent before the gateway counts etcd as down, its outcome is unknown; on a loaded machine the
    // gateway may have counted it so first, and then it is not sent at all.
    const took = await Promise.all([
      refusedAfter(c.state.set('lost', 2), /may or may not have been applied|was not sent/),
      refusedAfter(other.state.compareAndSet('k', 99, 5), /nothing of the write applied/),
    ])
    // The transaction's deadline (5 s), then the fence's (10 s), within the client's 30 s timeout.
    t.diagnostic(`the first writes of the outage refused after ${took.join(' and ')} ms`)
    for (const ms of took) assert.ok(ms < 20_000, `refused after ${ms} ms`)
    await assert.rejects(
      c.state.set('unsent', 3),
      (error: unknown) =>
        isZStateError(error) && error.code === 'ERR_UNAVAILABLE' && /was not sent/.test(error.message),
    )
    assert.equal(c.state.get('k'), 1, 'reads go on from the replica')
    resume()
    await own.waitHealthy()
    await until(async () => (await c.state.set('k', 4).catch(() => 0)) > 0, 'writes go through again')
    assert.equal(c.state.get('k'), 4)
    assert.equal(c.state.get('unsent'), undefined)
  },
)

// A fence move whose answer was lost (every try timed out, and etcd took one once it had a quorum
// again) leaves the gateway comparing an old fence revision: it must take the fence as etcd has it,
// not refuse every write after as a conflict.
test(
  'a gateway whose fence moved without its knowing takes the fence as etcd has it',
  { skip },
  async (t) => {
    const options = stateOptions()
    const [a] = await gateways(t, 1, options)
    const c = await client(t, a!.address)
    await c.state.set('k', 1)
    const raw = new Etcd3({ hosts: cluster().endpoints })
    t.after(() => raw.close())
    const fences = await raw.getAll().prefix(`${options.etcd!.prefix}_g/`).keys()
    assert.equal(fences.length, 1, fences.join(', '))
    await raw.put(fences[0]!).value('')
    assert.ok((await c.state.set('k', 2)) > 0)
    assert.equal(c.state.get('k'), 2)
  },
)

test(
  'services and topics reach across gateways: a provider on A serves callers on B, what is published on either reaches both once',
  { skip },
  async (t) => {
    const { onA: providerClient, onB: caller } = await clientsOfTwo(t)
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

// From an outside audit: a gateway restarted at once on its address registers anew while its
// earlier run's registration lives on until its lease ends; every gateway then linked to that
// address twice (the restarted one to itself too), and what was published reached subscribers twice.
test(
  'a gateway restarted on its address while its old registration lives on: what is published reaches every subscriber once',
  { skip },
  async (t) => {
    // Beats of 1 s: a registration outlives its killed gateway by 10 s, the whole test.
    const options = { ...stateOptions(), heartbeatMs: 1000 }
    const doomed = await gatewayProcess(t, options)
    const [b] = (await gateways(t, 1, options)) as [Server]
    doomed.process.child.kill('SIGKILL')
    await doomed.process.exited
    const a = await gatewayProcess(t, { ...options, address: doomed.address })
    const [onA, onB] = [await client(t, a.address), await client(t, b.address)]
    const subscriptions = [onA.subscribe<number>('dup/'), onB.subscribe<number>('dup/')]
    t.after(() => subscriptions.forEach((subscription) => subscription.close()))
    await Promise.all(subscriptions.map((subscription) => subscription.ready))
    const received = subscriptions.map(() => [] as string[])
    subscriptions.forEach(
      (subscription, i) =>
        void (async () => {
          for await (const { topic, message } of subscription) received[i]!.push(`${topic}:${message}`)
        })(),
    )
    const has = (i: number, line: string): boolean => received[i]!.includes(line)
    // Until each gateway passes the other's messages on.
    for (const [from, to] of [
      [onA, 1],
      [onB, 0],
    ] as const)
      await until(async () => (await from.publish('dup/probe', to), has(to, `dup/probe:${to}`)), 'linked')
    const count = 20
    for (let n = 1; n <= count; n++) await Promise.all([onA.publish('dup/a', n), onB.publish('dup/b', n)])
    // An end mark from each, then another sent once the first has arrived everywhere: a second copy
    // of anything, by a second path, would have come by then.
    for (const mark of ['dup/end:1', 'dup/end:2']) {
      await Promise.all([
        onA.publish('dup/end', Number(mark.at(-1))),
        onB.publish('dup/end', Number(mark.at(-1))),
      ])
      await until(() => received.every((lines) => lines.filter((line) => line === mark).length >= 2), mark)
    }
    const numbered = Array.from({ length: count }, (_, n) => n + 1)
    for (const lines of received) {
      assert.deepEqual(
        lines.filter((line) => line.startsWith('dup/a:')),
        numbered.map((n) => `dup/a:${n}`),
      )
      assert.deepEqual(
        lines.filter((line) => line.startsWith('dup/b:')),
        numbered.map((n) => `dup/b:${n}`),
      )
      assert.equal(lines.filter((line) => line.startsWith('dup/end:')).length, 4)
    }
    // The earlier run's registration was there all along: two registrations name the address.
    const raw = new Etcd3({ hosts: cluster().endpoints })
    t.after(() => raw.close())
    const registered = await raw.getAll().prefix(`${options.etcd!.prefix}_gw/`).strings()
    assert.equal(Object.values(registered).filter((address) => address === a.address).length, 2)
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

// etcd with auth on: credentials it refuses are ERR_UNAUTHORIZED at once, not an outage (ERR_UNAVAILABLE,
// retried for seconds); a password alone is an option error.
test('etcd refusing the gateway’s credentials is ERR_UNAUTHORIZED at once', { skip }, async () => {
  const own = await startEtcdCluster({ members: 1 })
  const prefix = 'authed/'
  const admin = new Etcd3({ hosts: own.endpoints })
  await admin.role('root').create()
  await admin.user('root').create('root-secret')
  await admin.user('root').addRole('root')
  await admin.role('reader').create()
  await admin.role('reader').grant({ permission: 'Read', range: Range.prefix(prefix) })
  await admin.user('reader').create('reader-secret')
  await admin.user('reader').addRole('reader')
  await admin.auth.authEnable()
  admin.close()
  const start = (username: string | undefined, password: string) =>
    startServer({
      address: 'tcp://127.0.0.1:*',
      etcd: { endpoints: own.endpoints, prefix, password, ...(username === undefined ? {} : { username }) },
    })
  for (const [username, password] of [
    ['root', 'wrong'],
    ['nobody', 'x'],
    ['reader', 'reader-secret'], // may read the prefix, not write its fence
  ] as const) {
    const started = Date.now()
    await assert.rejects(start(username, password), (error: unknown) => {
      assert.ok(isZStateError(error), String(error))
      assert.equal(error.code, 'ERR_UNAUTHORIZED', `${username}: ${error.message}`)
      assert.match(error.message, /etcd refused the gateway's credentials/)
      return true
    })
    assert.ok(Date.now() - started < 5_000, `${username}: refused after ${Date.now() - started} ms`)
  }
  await assert.rejects(start(undefined, 'root-secret'), /etcd\.password without etcd\.username/)
  // No credentials where etcd wants some, and credentials where it has no auth: refused at once too.
  const refusedAtOnce = async (etcd: {
    endpoints: string[]
    prefix: string
    username?: string
    password?: string
  }) => {
    const started = Date.now()
    await assert.rejects(startServer({ address: 'tcp://127.0.0.1:*', etcd }), (error: unknown) => {
      assert.ok(isZStateError(error) && error.code === 'ERR_UNAUTHORIZED', String(error))
      return true
    })
    assert.ok(Date.now() - started < 5_000, `refused after ${Date.now() - started} ms`)
  }
  await refusedAtOnce({ endpoints: own.endpoints, prefix })
  const open = await startEtcdCluster({ members: 1 })
  try {
    await refusedAtOnce({ endpoints: open.endpoints, prefix, username: 'root', password: 'root-secret' })
  } finally {
    await open.close()
  }
  const server = await start('root', 'root-secret')
  const c = await connect(server.address)
  try {
    assert.ok((await c.state.set('k', 1)) > 0)
  } finally {
    // In this order: a gateway closing after its etcd waits for it.
    await c.close()
    await server.close()
    await own.close()
  }
})

test('startServer refuses etcd with a data dir, and endpoints that are not URLs', async () => {
  await assert.rejects(
    startServer({ etcd: { endpoints: ['http://127.0.0.1:1'] }, dataDir: '/tmp/x' }),
    /etcd and dataDir exclude each other/,
  )
  // Not http://HOST:PORT: no scheme, https (no TLS settings for etcd), no port (it would dial 80).
  for (const endpoint of ['127.0.0.1:2379', 'https://127.0.0.1:2379', 'http://127.0.0.1', 'http://h:0'])
    await assert.rejects(startServer({ etcd: { endpoints: [endpoint] } }), /etcd.endpoints must be/, endpoint)
  await assert.rejects(startServer({ etcd: { endpoints: [] } }), /etcd.endpoints must be/)
  assert.ok(isEtcdEndpoint('http://[::1]:2379/') && isEtcdEndpoint('http://etcd-1.local:2379'))
})
