// A hand-written client against an etcd gateway (docs/security.md): what a standalone server does at
// once, a gateway does through etcd, so its waits must be bounded too. Each spec attacks one rule
// with a raw DEALER; all of them failed before their fix.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { Etcd3 } from 'etcd3'
import { Dealer } from 'zeromq'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { isZStateError } from '../lib/index.ts'
import { startEtcd } from './fixtures/etcd-cluster.ts'
import { client, etcdGateways } from './fixtures/etcd-gateways.ts'
import { until } from './process-support.ts'

const { skip, cluster, gateways } = etcdGateways('etcd-gateways-hostile.spec', { heartbeatMs: 500 })

type Reply = [id: number, status: number, ...rest: unknown[]]

const hello = (id: number): unknown[] => [
  id,
  Op.HELLO,
  PROTOCOL_VERSION,
  randomBytes(8).toString('hex'),
  process.pid,
  'raw',
]

// A raw DEALER: sends frames of requests as they are, and tallies the replies by error code ('' for
// OK), keeping none of them.
function rawDealer(t: TestContext, address: string) {
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(address)
  const codes = new Map<string, number>()
  let replies = 0
  void (async () => {
    for await (const frames of dealer)
      for (const reply of decode(fromParts(frames, 0)!) as Reply[]) {
        if (reply[0] === 0) continue
        const code = reply[1] === Status.ERROR ? String(reply[2]) : ''
        codes.set(code, (codes.get(code) ?? 0) + 1)
        replies++
      }
  })().catch(() => {})
  return {
    send: (requests: unknown[][]) => dealer.send(encode(requests)),
    codes,
    replies: () => replies,
  }
}

// A raw DEALER whose HELLO was answered (request id 1).
async function rawSession(t: TestContext, address: string): Promise<ReturnType<typeof rawDealer>> {
  const raw = rawDealer(t, address)
  await raw.send([hello(1)])
  await until(() => raw.replies() === 1, 'HELLO answered')
  return raw
}

function etcdClient(t: TestContext): Etcd3 {
  const etcd = new Etcd3({ hosts: cluster().endpoints })
  t.after(() => etcd.close())
  return etcd
}

test(
  'hostile: a session that ends while its first ephemeral write waits for etcd leaves no lease and no key behind',
  { skip },
  async (t) => {
    const [gateway] = await gateways(t, 1)
    const etcd = etcdClient(t)
    const leasesBefore = (await etcd.leaseClient.leaseLeases()).leases.length
    const raw = rawDealer(t, gateway!.address)
    // HELLO, an ephemeral set, BYE: the session ends while the set still waits for its lease.
    const rounds = 50
    for (let i = 0; i < rounds; i++)
      await raw.send([hello(3 * i + 1), [3 * i + 2, Op.SET, `leak/${i}`, 'v', true, 0], [3 * i + 3, Op.BYE]])
    // Their HELLOs and BYEs are answered; each set's answer would go to a session that ended.
    await until(() => raw.replies() >= 2 * rounds, 'the HELLOs and BYEs answered', 30_000)
    // Whatever was granted for them is revoked: etcd holds no more leases than before, and no key.
    await until(
      async () => (await etcd.leaseClient.leaseLeases()).leases.length <= leasesBefore,
      'the leases of the ended sessions revoked',
      15_000,
    )
    const observer = await client(t, gateway!.address)
    await observer.state.sync()
    assert.deepEqual(
      [...observer.state.keys()].filter((key) => key.startsWith('leak/')),
      [],
    )
  },
)

// Range requests the members have served (etcd_mvcc_range_total, summed).
async function rangesServed(): Promise<number> {
  let total = 0
  for (const endpoint of cluster().endpoints) {
    const text = await (await fetch(`${endpoint}/metrics`)).text()
    total += Number(/^etcd_mvcc_range_total (\d+)$/m.exec(text)?.[1] ?? 0)
  }
  return total
}

test(
  'hostile: a flood of SYNCs through a gateway costs etcd a few reads at a time, and is refused past its bound',
  { skip },
  async (t) => {
    const [gateway] = await gateways(t, 1)
    const victim = await client(t, gateway!.address)
    const raw = await rawSession(t, gateway!.address)
    const before = await rangesServed()
    const frames = 50
    let id = 2
    for (let f = 0; f < frames; f++) await raw.send(Array.from({ length: 1024 }, () => [id++, Op.SYNC]))
    // Meanwhile another client's writes go on.
    const started = performance.now()
    await victim.state.set('k', 1)
    const victimMs = performance.now() - started
    await until(() => raw.replies() === 1 + frames * 1024, 'every SYNC answered', 60_000)
    const reads = (await rangesServed()) - before
    t.diagnostic(
      `${frames * 1024} SYNCs: ${reads} reads of etcd, ${String(raw.codes.get('ERR_OVERFLOW'))} refused; the victim's write took ${victimMs.toFixed(0)} ms`,
    )
    // Before, each SYNC read etcd itself: as many reads as SYNCs (the gateway grew to GBs with them).
    assert.ok(reads < (frames * 1024) / 10, `${reads} reads of etcd for ${frames * 1024} SYNCs`)
    assert.ok((raw.codes.get('ERR_OVERFLOW') ?? 0) > 0, 'SYNCs past the bound are refused')
    assert.equal((raw.codes.get('') ?? 0) + (raw.codes.get('ERR_OVERFLOW') ?? 0), 1 + frames * 1024)
    assert.ok(victimMs < 5_000, `the victim's write took ${victimMs.toFixed(0)} ms`)
  },
)

test(
  'hostile: writes a session sends faster than etcd takes them are refused past its bound, not queued without end',
  { skip },
  async (t) => {
    const [gateway] = await gateways(t, 1)
    // The writes taken are acknowledged by their commits, which a watcher counts.
    const observer = await client(t, gateway!.address)
    let committed = 0
    void (async () => {
      for await (const _change of observer.state.watch({ prefix: 'big/' })) committed++
    })()
    const raw = await rawSession(t, gateway!.address)
    // 1 MB sets, none awaited: 100 MB where a session may have 32 MiB of frames waiting for etcd.
    const sets = 100
    const value = 'v'.repeat(1 << 20)
    for (let i = 0; i < sets; i++) await raw.send([[2 + i, Op.SET, `big/${i % 10}`, value]])
    const refused = (): number => raw.codes.get('ERR_OVERFLOW') ?? 0
    await until(() => refused() + committed === sets, 'every set refused or committed', 60_000)
    t.diagnostic(`${sets} sets of 1 MB: ${refused()} refused with ERR_OVERFLOW, ${committed} committed`)
    assert.ok(refused() > 0, 'sets past the bound are refused')
    assert.equal(raw.replies(), 1 + refused(), 'no other reply')
  },
)

// etcd keeps every revision until compacted: rewrites fill its quota (scale-out.md), and then it
// refuses every write. That is etcd's answer, not its silence: each write says so, and the gateway
// keeps asking the member (it said etcd did not answer, its circuit breaker open, after three).
test('a full etcd (NOSPACE) refuses each write as such, nothing applied', { skip }, async (t) => {
  const small = await startEtcd({ flags: ['--quota-backend-bytes', String(16 << 20)] })
  t.after(() => small.close())
  const [gateway] = await gateways(t, 1, {
    address: 'tcp://127.0.0.1:*',
    etcd: { endpoints: small.endpoints, prefix: 'full/' },
  })
  const c = await client(t, gateway!.address)
  const value = 'v'.repeat(1 << 20)
  let full: unknown
  for (let i = 0; i < 64 && full === undefined; i++)
    await c.state.set('big', value).catch((error: unknown) => (full = error))
  assert.ok(full !== undefined, 'etcd filled up')
  for (let i = 0; i < 5; i++) {
    const refused = await c.state.set('big', 'small').then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.ok(
      isZStateError(refused) &&
        refused.code === 'ERR_UNAVAILABLE' &&
        /database is full/.test(refused.message),
      `write ${i + 1} after etcd filled up: ${String(refused)}`,
    )
  }
  assert.equal(c.state.get('big'), value)
})
