import { redisSetItem } from './baselines/redis-set.ts'
import { startRoundTrip } from './baselines/round-trip.ts'
import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { startRedis } from './support/redis.ts'
import { n } from './support/format.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { interleaved } from './support/runs.ts'
import { canPin, PLACEMENT_NOTE, placed, placementRows } from './support/pinning.ts'
import { itemOf, keyOf } from './support/values.ts'
import { startStatePair } from './support/zstate.ts'

// Why the goal is missed, as measured (docs/benchmarks.md shows it with the row).
export const WRITE_PATH_CAUSE =
  'the median write is close to the raw round trip (see the p50 row); the throughput is lost mostly in the tail. Measured apart (3 × 10,000 sets alternating with raw round trips of the same request): writes slower than 1 ms numbered 17–85 per 10,000 against 2–4, and in a trace of 20,000 sets (timestamps on the shared monotonic clock) the slowest 1 % lost most of their time in a socket hop (160 of 223: a process or libzmq I/O thread waiting for one of the 2 cores), the rest in the server’s or the client’s own work. A scheduler trace of 20,000 sets (perf sched) names who holds the core: 111 waits over 0.5 ms to be run, 172 ms in all, during which V8’s worker threads (garbage collection, compilation) of the server and the client ran 136 ms on the waiting thread’s core, while the other core sat idle for 52 ms of them; per write, V8’s workers run 5–7 µs in zstate’s client and server against 0.3–1.6 µs in the raw round trip’s processes, which allocate next to nothing. Without those threads (--single-threaded) the same work runs on the main threads and the slow writes stay as many. Per write, at the median, zstate’s JavaScript adds to the round trip about 3 µs in the client before the send, 12 µs in the server from receiving the write to publishing its commit, and 8 µs in the client from the commit’s arrival to the settled promise'

// (a) One client awaiting each state.set before the next: the write path's fixed cost, compared with
// the bare round trip it rides on (goal ≥ 0.9×) and with Redis SET.
runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using roundTrip = await startRoundTrip(dir)
  await using withCopy = await startRoundTrip(dir, { publishedCopy: true })
  await using redis = await startRedis()
  const redisClient = await redis?.connect()
  const { state } = zstate.client
  const pinning = await canPin()

  // Each measurement warms its own path first, then times `count` operations.
  const measure = (op: (i: number) => Promise<unknown>) => async (): Promise<Latencies> => {
    await sequential(warmup, op)
    return sequential(count, op)
  }
  const set = measure((i) => state.set(keyOf(i), itemOf(i)))
  const raw = measure((i) => roundTrip.client.request(i, itemOf(i)))
  const rawPlaced = placed(pinning, roundTrip.serverPid, raw)
  try {
    const r = await interleaved({
      zstate: set,
      raw,
      // Every thread of the server's process and of this one bound to cores by taskset.
      ...placed(pinning, zstate.server.side.pid, set),
      rawCoreEach: rawPlaced.coreEach,
      rawOneCore: rawPlaced.oneCore,
      withCopy: measure((i) => withCopy.client.request(i, itemOf(i))),
      redis: redisClient === undefined ? undefined : measure((i) => redisSetItem(redisClient, i)),
    })
    const ops = (l: Latencies[]): number[] => l.map((x) => x.opsPerSec)
    const p50 = (l: Latencies[]): number[] => l.map((x) => x.p50Us)
    const p99 = (l: Latencies[]): number[] => l.map((x) => x.p99Us)
    return {
      id: 'set-sequential',
      title: '(a) Sequential awaited state.set, one client',
      comparisons: [
        compare('throughput', Unit.opsPerSec, ops(r.zstate), 'raw DEALER→ROUTER round trip', ops(r.raw), {
          op: '≥',
          ratio: 0.9,
          cause: WRITE_PATH_CAUSE,
        }),
        compare('p50 latency', Unit.us, p50(r.zstate), 'raw DEALER→ROUTER round trip', p50(r.raw)),
        compare('p99 latency', Unit.us, p99(r.zstate), 'raw DEALER→ROUTER round trip', p99(r.raw)),
        compare(
          'throughput',
          Unit.opsPerSec,
          ops(r.zstate),
          'raw round trip + published copy decoded here',
          ops(r.withCopy),
        ),
        compare('throughput', Unit.opsPerSec, ops(r.zstate), 'Redis SET, sequential (ioredis)', ops(r.redis)),
        ...placementRows(
          Unit.opsPerSec,
          { coreEach: ops(r.coreEach), oneCore: ops(r.oneCore) },
          ops(r.zstate),
          {
            name: 'raw DEALER→ROUTER round trip',
            values: { coreEach: ops(r.rawCoreEach), oneCore: ops(r.rawOneCore) },
          },
        ),
      ],
      notes: [
        `${n(count)} awaited sets per run, each after ${n(warmup)} warm-up operations; ~107-byte values`,
        'a set costs two messages, as the raw round trip does: the request, and its commit published to every replica (the writer’s own copy acknowledges it); a commit of 129 bytes to 1 KiB travels as parts (see the parts row)',
        '"raw round trip + published copy": a request, its reply and a published copy decoded here, with nothing else: the floor of a design that acknowledges a write by a reply (zstate’s protocol 1)',
        `${PLACEMENT_NOTE}; everything else as above`,
      ],
    }
  } finally {
    await redisClient?.quit()
  }
})
