import { readFile } from 'node:fs/promises'
import process from 'node:process'
import { Etcd3, type Watcher } from 'etcd3'
import { zstatePackage } from './support/built.ts'
import { ETCD_PACKAGE, startEtcdCluster } from '../spec/fixtures/etcd-cluster.ts'
import { nowUs } from './support/clock.ts'
import { scaled } from './support/config.ts'
import { dataRoot } from './support/disk.ts'
import { n } from './support/format.ts'
import type { IncrementReport, IncrementTask } from './support/increments.ts'
import { pacedLatency } from './support/latency.ts'
import { inFlight, sequential, type Latencies } from './support/measure.ts'
import { GATEWAY_ADDRESS, startGateway, withoutEtcd, type Gateway } from './support/etcd-gateway.ts'
import { forkSide, stopAll, type Side } from './support/processes.ts'
import { compare, PERCENTILES, Unit, type GoalOptions, type ScenarioResult } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { median, percentile } from './support/stats.ts'
import { itemOf, keyOf } from './support/values.ts'
import type { BenchClient } from './support/zstate.ts'

const { connect } = zstatePackage

// (k) zstate servers as gateways to a state held in etcd (docs/scale-out.md), against etcd3 talking to
// the same etcd directly: awaited sets (goal ≥ 0.8×) and sets in flight (goal ≥ 1×) through one
// gateway against etcd3 puts; a set through gateway A until state.when resolves in a client of gateway
// B, against etcd's own watch (goal ≤ 1.5×: raw watch latency plus about one relay); state.atomic on
// one hot key from 4 processes over 2 gateways against etcd3's STM (goal ≥ 1×). Exact totals checked.
// A single etcd member, its data dir on a real disk (fsync is part of the comparison).

const ID = 'etcd-gateways'
const TITLE = '(k) etcd gateways: zstate servers over one etcd vs etcd3 on the same etcd'
const SECTION = 'Scale-out (etcd gateways)'
// The state the gateways serve; the raw etcd3 baselines write outside it, where no gateway watches.
const PREFIX = 'bench/'
const RAW = 'raw/'
const SESSIONS = 4 // client connections (gateway sessions) for the in-flight writes
const INCREMENTERS = 4 // processes incrementing the hot key, half of them on each gateway

const cpuUs = ({ user, system }: NodeJS.CpuUsage): number => user + system
const us = (x: number): string => (x >= 10_000 ? `${(x / 1e3).toFixed(1)} ms` : `${x.toFixed(0)} µs`)
const perSec = (x: number): string => `${n(Math.round(x))}/s`
const m = (runs: readonly number[]): number => (runs.length === 0 ? NaN : median(runs))

// CPU time (user + system, µs, every thread) of another process, from /proc (10 ms ticks).
async function processCpuUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100
}

// CPU per operation of a timed part: the gateway's process, etcd's and this one's.
interface Cpu {
  readonly gateway: number
  readonly etcd: number
  readonly here: number
}
interface Measured<T> {
  readonly result: T
  readonly cpu: Cpu
}

const rawValue = (i: number): string => JSON.stringify(itemOf(i))

runScenario(import.meta.url, async (): Promise<Omit<ScenarioResult, 'environment'>> => {
  const skipped = withoutEtcd({ id: ID, title: TITLE, section: SECTION })
  if (skipped !== undefined) return skipped
  // Every write here waits for an fsync: these counts keep the whole scenario near 2 minutes.
  const count = scaled(2_000, 20)
  const warmup = scaled(200, 10)
  const burst = scaled(4_000, 40)
  const burstWarmup = scaled(400, 20)
  const perSession = Math.ceil(burst / SESSIONS)
  const pings = scaled(1_000, 20)
  const pingWarmup = scaled(100, 10)
  const increments = scaled(200, 10) // per process and pass
  const incrementWarmup = scaled(20, 3)

  await using root = await dataRoot()
  await using etcd = await startEtcdCluster({ members: 1, dir: root.dir('etcd') })
  const { endpoints } = etcd
  const etcdPid = etcd.members[0]!.pid!
  await using gatewayA = await startGateway(endpoints, PREFIX)
  const raw = new Etcd3({ hosts: endpoints })
  const rawWatch = new Etcd3({ hosts: endpoints })
  const floorWatch = new Etcd3({ hosts: endpoints })
  const stmClients = Array.from({ length: INCREMENTERS }, () => new Etcd3({ hosts: endpoints }))
  const clients: BenchClient[] = []
  const sides: Side[] = []
  let watcher: Watcher | undefined
  let floorWatcher: Watcher | undefined
  let gatewayB: Gateway | undefined
  try {
    for (let s = 0; s < SESSIONS; s++)
      clients.push(await connect<Record<string, unknown>>(gatewayA.address, { name: `bench-${s}` }))
    const client = clients[0]!
    // benchmarks/sides/state-server.ts passes the etcd option on untyped: make sure it did.
    await client.state.set('probe', true)
    if ((await raw.getAll().prefix(PREFIX).keys()).length === 0)
      throw new Error(`gateway A wrote nothing under '${PREFIX}' in etcd: it was started without etcd`)

    const withCpu = async <T>(ops: number, timed: () => Promise<T>): Promise<Measured<T>> => {
      const [g0, e0, h0] = [await gatewayA.cpuUs(), await processCpuUs(etcdPid), process.cpuUsage()]
      const result = await timed()
      const here = cpuUs(process.cpuUsage(h0))
      const [g1, e1] = [await gatewayA.cpuUs(), await processCpuUs(etcdPid)]
      return { result, cpu: { gateway: (g1 - g0) / ops, etcd: (e1 - e0) / ops, here: here / ops } }
    }

    // 1. One client, each write awaited before the next.
    const awaited = (op: (i: number) => Promise<unknown>) => async (): Promise<Measured<Latencies>> => {
      await sequential(warmup, op)
      return withCpu(count, () => sequential(count, op))
    }
    // The floor under this design: what a gateway sends for a set, written by etcd3 directly (compare
    // whether the key exists, put it, put the key-space marker if it is new, put <prefix>_tx), awaited
    // and then waited for in a watch of the prefix, as the gateway waits for its commit.
    const floor = `${RAW}floor/`
    const floorTx = Buffer.from(`${floor}_tx`)
    const floorKs = Buffer.from(`${floor}_ks`)
    const existing = new Set<number>()
    floorWatcher = await floorWatch.watch().prefix(floor).create()
    let floorRevision = 0
    let floorWaiter: { revision: number; resolve: () => void } | undefined
    floorWatcher.on('data', (response) => {
      for (const event of response.events)
        floorRevision = Math.max(floorRevision, Number(event.kv.mod_revision))
      if (floorWaiter !== undefined && floorRevision >= floorWaiter.revision) {
        floorWaiter.resolve()
        floorWaiter = undefined
      }
    })
    const floorOp = async (i: number): Promise<void> => {
      const key = Buffer.from(floor + keyOf(i))
      const exists = existing.has(i)
      const response = await raw.kv.txn({
        compare: [{ key, target: 'Version', result: exists ? 'Greater' : 'Equal', version: 0 }],
        success: [
          { request_put: { key, value: Buffer.from(rawValue(i)) } },
          ...(exists ? [] : [{ request_put: { key: floorKs, value: Buffer.alloc(0) } }]),
          { request_put: { key: floorTx, value: Buffer.from(String(i)) } },
        ],
      })
      if (!response.succeeded) throw new Error(`the floor's Txn for ${keyOf(i)} did not apply`)
      existing.add(i)
      const revision = Number(response.header.revision)
      if (floorRevision < revision)
        await new Promise<void>((resolve) => (floorWaiter = { revision, resolve }))
    }
    const rawPut = (i: number): Promise<unknown> =>
      raw
        .put(RAW + keyOf(i))
        .value(rawValue(i))
        .exec()
    const seq = await interleaved({
      gateway: awaited((i) => client.state.set(keyOf(i), itemOf(i))),
      floor: awaited(floorOp),
      etcd: awaited((i) => rawPut(i)),
    })

    // 2. Writes in flight: SESSIONS clients of gateway A, each with its share all at once (the gateway
    // has one transaction per session in etcd, the writes queued meanwhile batched into the next), against
    // all of them at once from one etcd3 client, and against SESSIONS awaited loops of etcd3 puts (the
    // gateway's concurrency).
    const gatewayBurst = (total: number): Promise<number> => {
      const per = Math.ceil(total / SESSIONS)
      return inFlight(per * SESSIONS, () =>
        Promise.all(
          clients.map((c, s) =>
            Promise.all(
              Array.from({ length: per }, (_, k) => c.state.set(keyOf(s * per + k), itemOf(s * per + k))),
            ),
          ),
        ),
      )
    }
    const etcdBurst = (total: number): Promise<number> =>
      inFlight(total, () => Promise.all(Array.from({ length: total }, (_, i) => rawPut(i))))
    const etcdLoops = (total: number): Promise<number> => {
      const per = Math.ceil(total / SESSIONS)
      return inFlight(per * SESSIONS, () =>
        Promise.all(
          Array.from({ length: SESSIONS }, async (_, s) => {
            for (let k = 0; k < per; k++) await rawPut(s * per + k)
          }),
        ),
      )
    }
    const burstRun = (run: (total: number) => Promise<number>) => async (): Promise<Measured<number>> => {
      await run(burstWarmup)
      return withCpu(perSession * SESSIONS, () => run(burst))
    }
    const par = await interleaved({
      gateway: burstRun(gatewayBurst),
      etcd: burstRun(etcdBurst),
      etcdLoops: burstRun(etcdLoops),
    })

    // 3. Across gateways: a set by this process through gateway A until state.when resolves in process B,
    // a client of gateway B; against an etcd3 put until an etcd3 watch on the key sees it (this process).
    gatewayB = await startGateway(endpoints, PREFIX)
    const b = await forkSide(new URL('./sides/state-client.ts', import.meta.url))
    sides.push(b)
    await b.call('connect', gatewayB.address)
    await b.call('watch', 'ping')
    const rawPing = RAW + 'ping'
    watcher = await rawWatch.watch().key(rawPing).create()
    let seen: { i: number; resolve: (t: number) => void } | undefined
    watcher.on('put', (kv) => {
      const t = nowUs()
      if (seen !== undefined && kv.value.toString() === String(seen.i)) seen.resolve(t)
    })
    const etcdWatchLatencies = async (first: number): Promise<number[]> => {
      const latencies: number[] = []
      for (let k = 0; k < pingWarmup + pings; k++) {
        const i = first + k
        const arrived = new Promise<number>((resolve) => (seen = { i, resolve }))
        const t = nowUs()
        await raw.put(rawPing).value(String(i)).exec()
        const latency = (await arrived) - t
        if (k >= pingWarmup) latencies.push(latency)
      }
      return latencies
    }
    let next = 0
    const lat = await interleaved({
      gateway: () => {
        const first = next
        next += pings + pingWarmup
        return pacedLatency(b, pings, pingWarmup, first, (s) => client.state.set('ping', s))
      },
      etcd: () => {
        const first = next
        next += pings + pingWarmup
        return etcdWatchLatencies(first)
      },
    })

    // 4. One hot key: INCREMENTERS processes, half on each gateway, each awaiting state.atomic
    // increments one by one; against INCREMENTERS etcd3 clients here, each awaiting STM transactions.
    const incrementers: Side[] = []
    for (let p = 0; p < INCREMENTERS; p++) {
      incrementers.push(await forkSide(new URL('./sides/incrementer.ts', import.meta.url)))
      sides.push(incrementers[p]!)
    }
    await Promise.all(
      incrementers.map((side, p) => side.call('connect', (p % 2 === 0 ? gatewayA : gatewayB!).address)),
    )
    let pass = 0
    const atomicPass = async (perProcess: number): Promise<IncrementReport[]> => {
      const key = `n-${pass++}`
      const task: IncrementTask = { method: 'atomic', shape: 'awaited', key, count: perProcess }
      const reports = await Promise.all(incrementers.map((side) => side.call<IncrementReport>('run', task)))
      // A write through gateway A commits after every increment did, and its commit reaches this
      // replica after theirs: what the replica holds then is etcd's final value.
      await client.state.set('check', key)
      const got = client.state.get(key)
      if (got !== INCREMENTERS * perProcess)
        throw new Error(
          `atomic: ${key} holds ${String(got)} after ${INCREMENTERS * perProcess} increments: the total is wrong`,
        )
      return reports
    }
    const stmPass = async (perProcess: number): Promise<IncrementReport[]> => {
      const key = `${RAW}stm-${pass++}`
      const reports = await Promise.all(
        stmClients.map(async (etcd3): Promise<IncrementReport> => {
          const latenciesUs = new Array<number>(perProcess)
          let attempts = 0
          const startUs = nowUs()
          for (let k = 0; k < perProcess; k++) {
            const t = nowUs()
            await etcd3.stm({ retries: 1_000 }).transact(async (tx) => {
              attempts++
              const value = await tx.get(key).string()
              await tx.put(key).value(String(Number(value ?? 0) + 1))
            })
            latenciesUs[k] = nowUs() - t
          }
          return { startUs, endUs: nowUs(), latenciesUs, retries: attempts - perProcess }
        }),
      )
      const got = await raw.get(key).number()
      if (got !== INCREMENTERS * perProcess)
        throw new Error(
          `etcd3 STM: ${key} holds ${String(got)} after ${INCREMENTERS * perProcess} increments: the total is wrong`,
        )
      return reports
    }
    const incrementRun = (run: (perProcess: number) => Promise<IncrementReport[]>) => async () => {
      await run(incrementWarmup)
      return summarise(await run(increments), INCREMENTERS * increments)
    }
    const inc = await interleaved({ atomic: incrementRun(atomicPass), stm: incrementRun(stmPass) })

    // What each goal's miss comes from, from the numbers measured here (shown only with a miss).
    const ops = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.opsPerSec)
    const p50 = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.p50Us)
    const p99 = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.p99Us)
    const cpu = (runs: readonly Measured<unknown>[], of: keyof Cpu): number => m(runs.map((r) => r.cpu[of]))
    const cpuText = (runs: readonly Measured<unknown>[], what: string): string =>
      `CPU per ${what}: gateway ${us(cpu(runs, 'gateway'))}, etcd ${us(cpu(runs, 'etcd'))}, client process ${us(cpu(runs, 'here'))}`
    // The trace: timestamps in a client and its gateway on the shared monotonic clock, 2,000 awaited
    // sets on an otherwise idle machine, p50 of each step.
    const trace =
      'a trace of the path (timestamps in client and gateway, p50): client → gateway 145 µs, working the set out 30 µs, the etcd Txn 945 µs (a bare etcd3 Txn of that shape: ~580 µs), its commit arriving through the watch 64 µs after the Txn’s answer, applying and publishing it 128 µs (mostly the PUB send), gateway → client 112 µs'
    const awaitedCause = (): string => {
      const [g, e, f] = [1e6 / m(ops(seq.gateway)), 1e6 / m(ops(seq.etcd)), 1e6 / m(ops(seq.floor))]
      return `${us(g)} per awaited set on average against ${us(e)} per awaited put, and ${us(f)} for the floor (the gateway's Txn sent by etcd3, awaited, then seen in a watch): a set costs a Txn and a watch event where the put costs a put; ${trace}; ${cpuText(seq.gateway, 'set')} (per raw put: etcd ${us(cpu(seq.etcd, 'etcd'))}, etcd3 here ${us(cpu(seq.etcd, 'here'))})`
    }
    const burstCause = (): string =>
      `a gateway keeps one Txn per session in etcd and sends the writes the session queued meanwhile together in the next (up to 100 per Txn), so ${SESSIONS} sessions keep at most ${SESSIONS} Txns in etcd, each carrying many sets, where the baseline keeps ${n(burst)} puts in flight for etcd to batch into few fsyncs; etcd3 with ${SESSIONS} awaited loops (the gateway's concurrency) reaches ${perSec(m(par.etcdLoops.map((r) => r.result)))}; ${cpuText(par.gateway, 'set')} (per raw put in flight: etcd ${us(cpu(par.etcd, 'etcd'))}, etcd3 here ${us(cpu(par.etcd, 'here'))})`
    const watchCause = (q: 50 | 99): string => {
      const [g, e] = [m(pct(q, lat.gateway)), m(pct(q, lat.etcd))]
      const head = `p${q} ${us(g)} against ${us(e)} (${us(g - e)} more)`
      return q === 50
        ? `${head}: the path is an awaited set's as far as gateway A's Txn, then gateway B's watch, and B; the raw put → watch has neither the two socket hops nor the gateways' work, and a put instead of a Txn; for the awaited set, ${trace}`
        : `${head}: the same steps as at p50, each of which may wait for one of the 2 cores: the path crosses five processes (A, gateway A, etcd, gateway B, B), the raw one two (this one and etcd); etcd's slow commits (fsync) delay both`
    }
    const atomicCause = (): string => {
      const per = (o: readonly Outcome[]): number => (INCREMENTERS * 1e6) / m(o.map((x) => x.perSec))
      const q = (o: readonly Outcome[], k: 'p50Us' | 'p99Us'): string => us(m(o.map((x) => x[k])))
      return `${us(per(inc.atomic))} per increment and process on average against ${us(per(inc.stm))}, though p50 is ${q(inc.atomic, 'p50Us')} against ${q(inc.stm, 'p50Us')} and retries ${retries(inc.atomic).toFixed(2)} per commit against ${retries(inc.stm).toFixed(2)}: the tail decides it, p99 ${q(inc.atomic, 'p99Us')} against ${q(inc.stm, 'p99Us')}; the slowest increments are starved, not slowed by the back-off: in a run of their own, each increment over 100 ms had met 7 to 26 conflicts, with atomic's back-off or without any (then p99 still 159–219 ms), as a process that lost learns of its conflict through the failed Txn, the gateway's watch and a reply, and re-runs its function, later than the winner, acknowledged by the commit itself, sends its next attempt; turns kept by each gateway for its own clients, as a standalone server keeps them, were built and measured apart (one run each, against the STM: queuing after 6 conflicts 0.84×, after 3 0.75×, after 1 0.63×, p99 112, 109 and 92 ms): they cut the slowest calls but cost throughput, as the two gateways' clients still race each other, so they were not kept`
    }
    const retries = (o: readonly Outcome[]): number => m(o.map((x) => x.retriesPerCommit))
    const etcdPut = 'etcd3 put, awaited one at a time'
    const floorName = 'floor: the gateway’s Txn sent by etcd3, awaited, then seen in a watch'
    const watchName = 'etcd3 put → etcd3 watch event, same process'
    const stmName = `etcd3 STM (get + put), ${INCREMENTERS} concurrent loops`
    // A row of the hot-key increments: one measure of `atomic` against the same of the STM's.
    const atomicRow = (measure: string, unit: Unit, key: keyof Outcome, goal?: GoalOptions) =>
      compare(
        `atomic, one hot key: ${measure}`,
        unit,
        inc.atomic.map((o) => o[key]),
        stmName,
        inc.stm.map((o) => o[key]),
        goal,
      )
    const pct = (q: number, runs: readonly number[][]): number[] => runs.map((l) => percentile(l, q))
    const percentiles = (runs: readonly number[][]): number[] => PERCENTILES.map((q) => m(pct(q, runs)))
    return {
      id: ID,
      title: TITLE,
      section: SECTION,
      comparisons: [
        compare('awaited set: throughput', Unit.opsPerSec, ops(seq.gateway), etcdPut, ops(seq.etcd), {
          op: '≥',
          ratio: 0.8,
          cause: awaitedCause(),
        }),
        compare('awaited set: throughput', Unit.opsPerSec, ops(seq.gateway), floorName, ops(seq.floor)),
        compare('awaited set: p50 latency', Unit.us, p50(seq.gateway), etcdPut, p50(seq.etcd)),
        compare('awaited set: p99 latency', Unit.us, p99(seq.gateway), etcdPut, p99(seq.etcd)),
        compare(
          `${n(perSession * SESSIONS)} sets in flight, ${SESSIONS} sessions`,
          Unit.opsPerSec,
          par.gateway.map((r) => r.result),
          `etcd3 puts, all ${n(burst)} in flight from one client`,
          par.etcd.map((r) => r.result),
          { op: '≥', ratio: 1, cause: burstCause() },
        ),
        compare(
          `${n(perSession * SESSIONS)} sets in flight, ${SESSIONS} sessions`,
          Unit.opsPerSec,
          par.gateway.map((r) => r.result),
          `etcd3 puts, ${SESSIONS} awaited loops`,
          par.etcdLoops.map((r) => r.result),
        ),
        compare('set via A → when in B: p50', Unit.us, pct(50, lat.gateway), watchName, pct(50, lat.etcd), {
          op: '≤',
          ratio: 1.5,
          cause: watchCause(50),
        }),
        compare('set via A → when in B: p99', Unit.us, pct(99, lat.gateway), watchName, pct(99, lat.etcd), {
          op: '≤',
          ratio: 1.5,
          cause: watchCause(99),
        }),
        atomicRow('increments/s', Unit.opsPerSec, 'perSec', { op: '≥', ratio: 1, cause: atomicCause() }),
        atomicRow('retries', Unit.perCommit, 'retriesPerCommit'),
        atomicRow('p50 latency', Unit.us, 'p50Us'),
        atomicRow('p99 latency', Unit.us, 'p99Us'),
      ],
      distributions: [
        {
          label: 'set via gateway A → when in B, against etcd put → watch',
          unit: Unit.us,
          series: [
            { name: 'zstate', values: percentiles(lat.gateway) },
            { name: watchName, values: percentiles(lat.etcd) },
          ],
        },
      ],
      notes: [
        `one etcd member (${ETCD_PACKAGE}, heartbeat 50 ms, election timeout 500 ms, as spec/fixtures/etcd-cluster.ts starts it), its data dir in a fresh temp dir on ${root.filesystem} (${root.path}, removed afterwards), so every commit is fsynced for real; one member because three on this machine's cores would measure the cores, not etcd`,
        `gateways: zstate servers in processes of their own on ${GATEWAY_ADDRESS}, started with etcd: { endpoints, prefix: '${PREFIX}' }; the baselines are etcd3 clients (new Etcd3({ hosts })) in this process on the same etcd, writing under '${RAW}', which no gateway watches; gateway B is started only for the watch and atomic parts`,
        `awaited: ${n(count)} state.set per run through gateway A, each awaited (resolved once committed in etcd and published back to this client) before the next, after ${n(warmup)} warm-up, against as many awaited etcd3 puts of the values' JSON; ~107-byte values. The floor does with etcd3 what the gateway does for each set, without zstate: the same Txn (compare whether the key exists, put the value, put the key-space marker when the key is new, put a _tx key), awaited, then waited for in a watch of its prefix`,
        `in flight: ${SESSIONS} client connections to gateway A in this process, each starting ${n(perSession)} sets at once (after a ${n(burstWarmup)} warm-up): a gateway has one transaction of each session in etcd at a time and sends the writes the session queued meanwhile together, as one transaction (up to 100), so ${SESSIONS} transactions are in etcd at most; against all ${n(burst)} etcd3 puts at once from one client (etcd batches them into few fsyncs), and against ${SESSIONS} loops of awaited puts, the same concurrency as the gateway's`,
        `CPU per write: process.cpuUsage() of gateway A's process and of this one, and etcd's utime + stime from /proc (10 ms ticks), read around each timed part and divided by its writes; medians over runs`,
        `watch: ${n(pings)} paced sets per run (one in flight) after ${n(pingWarmup)} warm-up, by a client of gateway A in this process, until state.when resolves in process B, a client of gateway B; against an etcd3 put from this process until an etcd3 watch (another etcd3 client, also here) reports it; the goal, ≤ 1.5×, stands for "raw etcd watch latency plus about one relay": the gateway path adds two socket hops and a gateway on each side`,
        `atomic: ${INCREMENTERS} processes (2 on each gateway) × ${n(increments)} awaited state.atomic((d) => { d[key] = (d[key] ?? 0) + 1 }) of one shared key per pass, after a ${n(incrementWarmup)}-per-process warm-up pass; against ${INCREMENTERS} etcd3 clients in this process, each looping ${n(increments)} awaited stm().transact((tx) => get + put) (SerializableSnapshot, retried on conflict); the exact total is checked after every pass, zstate's through a replica after a later write, etcd's with a get`,
      ],
    }
  } finally {
    await watcher?.cancel().catch(() => {})
    await floorWatcher?.cancel().catch(() => {})
    await stopAll(sides)
    await Promise.allSettled(clients.map((c) => c.close()))
    await gatewayB?.[Symbol.asyncDispose]()
    for (const c of [raw, rawWatch, floorWatch, ...stmClients]) c.close()
  }
})

interface Outcome {
  readonly perSec: number
  readonly p50Us: number
  readonly p99Us: number
  readonly retriesPerCommit: number
}

// A pass lasts from the first loop starting to the last one finishing.
function summarise(reports: readonly IncrementReport[], total: number): Outcome {
  const elapsedUs = Math.max(...reports.map((r) => r.endUs)) - Math.min(...reports.map((r) => r.startUs))
  const latencies = reports.flatMap((r) => r.latenciesUs)
  return {
    perSec: (total / elapsedUs) * 1e6,
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
    retriesPerCommit: reports.reduce((sum, r) => sum + r.retries, 0) / total,
  }
}
