import { Etcd3 } from 'etcd3'
import { zstatePackage } from './support/built.ts'
import { ETCD_PACKAGE, startEtcdCluster } from '../spec/fixtures/etcd-cluster.ts'
import { nowUs } from './support/clock.ts'
import { scaled } from './support/config.ts'
import { dataRoot } from './support/disk.ts'
import { GATEWAY_ADDRESS, startGateway, withoutEtcd, type Gateway } from './support/etcd-gateway.ts'
import { n } from './support/format.ts'
import { forkSide, stopAll, type Side } from './support/processes.ts'
import { compare, Unit, type ScenarioResult } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { fill, itemOf } from './support/values.ts'
import type { Span } from './sides/scale-client.ts'

const { connect } = zstatePackage

// (l) Scale-out: 12 client processes, each a full replica, joined through one gateway or spread over
// three, all on one etcd. Reads are served by each client's replica, never by a gateway, so they add
// up over the clients as far as the machine's cores go; writes are etcd transactions, so etcd bounds
// them, whatever the number of gateways. The issue asks to report both: no goals.

const ID = 'etcd-scale'
const TITLE = '(l) Scale-out: 12 client processes on 1 or 3 etcd gateways'
const SECTION = 'Scale-out (etcd gateways)'
const PREFIX = 'scale/'
const RAW = 'raw/'
const CLIENTS = 12
const GATEWAYS = 3
const KEYS = 1_000

// Per run: reads/s of every client at once and of one alone, and writes/s (only writes for etcd3).
interface Rates {
  readonly reads?: number
  readonly readsAlone?: number
  readonly writes: number
}

// Work per second over every client's span at once: from the first one starting to the last one done.
function perSecond(spans: readonly Span[], operations: number): number {
  const startUs = Math.min(...spans.map((s) => s.startUs))
  const endUs = Math.max(...spans.map((s) => s.endUs))
  return (operations / (endUs - startUs)) * 1e6
}

runScenario(import.meta.url, async (): Promise<Omit<ScenarioResult, 'environment'>> => {
  const skipped = withoutEtcd({ id: ID, title: TITLE, section: SECTION })
  if (skipped !== undefined) return skipped
  const reads = scaled(1_000_000, 10_000) // per client and run
  const writes = scaled(500, 20) // per client and run, all in flight
  const warmupWrites = scaled(50, 5)

  await using root = await dataRoot()
  await using etcd = await startEtcdCluster({ members: 1, dir: root.dir('etcd') })
  const { endpoints } = etcd
  const gateways: Gateway[] = []
  const sides: Side[] = []
  const raw = new Etcd3({ hosts: endpoints })
  try {
    for (let g = 0; g < GATEWAYS; g++) gateways.push(await startGateway(endpoints, PREFIX))
    // The keys every client reads, written before any client joins, so each join's snapshot holds them.
    const filler = await connect<Record<string, unknown>>(gateways[0]!.address, { name: 'bench fill' })
    try {
      await fill((values) => filler.state.update(values), KEYS, 100)
    } finally {
      await filler.close()
    }
    if ((await raw.getAll().prefix(PREFIX).keys()).length < KEYS)
      throw new Error(`the gateways wrote fewer than ${KEYS} keys under '${PREFIX}' in etcd`)
    for (let c = 0; c < CLIENTS; c++)
      sides.push(await forkSide(new URL('./sides/scale-client.ts', import.meta.url)))

    // Every client joins (client c through gateway c mod `over`), reads, then writes, then leaves.
    const spread = (over: number) => async (): Promise<Rates> => {
      await Promise.all(
        sides.map((side, c) => side.call('connect', gateways[c % over]!.address, `scale ${c}`)),
      )
      try {
        const alone = await sides[0]!.call<Span>('reads', KEYS, reads)
        const together = await Promise.all(sides.map((side) => side.call<Span>('reads', KEYS, reads)))
        await Promise.all(sides.map((side, c) => side.call('writes', `w/${c}`, warmupWrites)))
        const written = await Promise.all(sides.map((side, c) => side.call<Span>('writes', `w/${c}`, writes)))
        return {
          readsAlone: perSecond([alone], reads),
          reads: perSecond(together, reads * CLIENTS),
          writes: perSecond(written, writes * CLIENTS),
        }
      } finally {
        await Promise.all(sides.map((side) => side.call('close')))
      }
    }
    // The same writes straight to etcd: etcd3 puts, all in flight from one client.
    const etcdPuts = async (): Promise<Rates> => {
      const total = writes * CLIENTS
      const put = (i: number): Promise<unknown> =>
        raw
          .put(`${RAW}${i % 100}`)
          .value(JSON.stringify(itemOf(i)))
          .exec()
      await Promise.all(Array.from({ length: warmupWrites * CLIENTS }, (_, i) => put(i)))
      const startUs = nowUs()
      await Promise.all(Array.from({ length: total }, (_, i) => put(i)))
      return { writes: perSecond([{ startUs, endUs: nowUs() }], total) }
    }
    const r = await interleaved({ three: spread(GATEWAYS), one: spread(1), etcd: etcdPuts })

    const three = `${CLIENTS} clients over ${GATEWAYS} gateways`
    const one = `${CLIENTS} clients on 1 gateway`
    const pick = (runs: readonly Rates[], what: keyof Rates): number[] => runs.map((run) => run[what] ?? NaN)
    return {
      id: ID,
      title: TITLE,
      section: SECTION,
      comparisons: [
        compare(
          `reads, ${three}: gets/s, all clients`,
          Unit.opsPerSec,
          pick(r.three, 'reads'),
          `the same, ${one}`,
          pick(r.one, 'reads'),
        ),
        compare(
          `reads, ${three}: gets/s, all clients`,
          Unit.opsPerSec,
          pick(r.three, 'reads'),
          'one client reading alone',
          pick(r.three, 'readsAlone'),
        ),
        compare(
          `writes in flight, ${three}: sets/s, all clients`,
          Unit.opsPerSec,
          pick(r.three, 'writes'),
          `the same, ${one}`,
          pick(r.one, 'writes'),
        ),
        compare(
          `writes in flight, ${three}: sets/s, all clients`,
          Unit.opsPerSec,
          pick(r.three, 'writes'),
          `etcd3 puts, all ${n(writes * CLIENTS)} in flight from one client`,
          pick(r.etcd, 'writes'),
        ),
      ],
      notes: [
        `one etcd member (${ETCD_PACKAGE}), its data dir on ${root.filesystem}, as in (k); ${GATEWAYS} gateways (zstate servers with etcd: { prefix: '${PREFIX}' }) in processes of their own on ${GATEWAY_ADDRESS}, all started for every run; ${CLIENTS} client processes, each one full replica, joined for each part afresh: through gateway 1 for "1 gateway", through gateway (c mod ${GATEWAYS}) + 1 for client c otherwise`,
        `reads: state.get of ${n(KEYS)} keys (written before the clients join) in rotation, ${n(reads)} per client, all ${CLIENTS} clients at once (their calls start together), against one client alone; reads/s = every read ÷ the time from the first client starting to the last one done, on the machine-wide monotonic clock. A read touches no gateway: what bounds the sum is the machine's 2 cores, which the ${CLIENTS} clients share with etcd and the gateways`,
        `writes: each client starts ${n(writes)} state.set at once (after ${n(warmupWrites)} warm-up), each its own revision, ~107-byte values; every commit reaches all ${CLIENTS} replicas through their gateways' watches of etcd; against as many etcd3 puts in flight from this process, which only etcd handles`,
      ],
    }
  } finally {
    await stopAll(sides)
    await Promise.allSettled(gateways.map((g) => g[Symbol.asyncDispose]()))
    raw.close()
  }
})
