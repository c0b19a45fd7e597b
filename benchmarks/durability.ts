import { join } from 'node:path'
import { redisPipelinedSets, redisSetItem } from './baselines/redis-set.ts'
import { startRoundTrip } from './baselines/round-trip.ts'
import { scaled } from './support/config.ts'
import { dataRoot } from './support/disk.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { startRedis } from './support/redis.ts'
import { compare, Unit, type Comparison } from './support/report.ts'
import {
  fillRedis,
  fillZstate,
  redisRestart,
  zstateStart,
  type RedisFill,
  type ZstateFill,
} from './support/restart.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { median } from './support/stats.ts'
import { itemOf, keyOf } from './support/values.ts'
import { setAll, startStatePair, type BenchClient } from './support/zstate.ts'

// (h) What a dataDir costs. Writes: awaited one at a time and 100,000 in flight, with fsync 'always'
// against Redis with appendfsync always (goal ≥ 1×), and with fsync 'interval' against zstate without a
// dataDir (goal ≥ 0.9×). Restart: 100,000 keys and a full default history, from spawning the server
// until a client has joined, against redis-server loading the same keys from its AOF (goal ≤ 1×).
// Disk: log bytes per commit against AOF bytes per SET, the snapshot against an RDB (no goals).

const ms = (x: number): string => `${(x / 1e3).toFixed(0)} ms`
const us = (x: number): string => `${x.toFixed(0)} µs`
const ops = (l: readonly Latencies[]): number[] => l.map((x) => x.opsPerSec)
const p50 = (l: readonly Latencies[]): number[] => l.map((x) => x.p50Us)

runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  const burst = scaled(100_000)
  const burstWarmup = Math.min(10_000, burst)
  const keys = scaled(100_000)
  await using root = await dataRoot()
  await using dir = await ipcDir()
  await using memory = await startStatePair(dir, 'memory')
  await using always = await startStatePair(dir, 'always', {
    storage: { dataDir: root.dir('always'), fsync: 'always' },
  })
  await using interval = await startStatePair(dir, 'interval', {
    storage: { dataDir: root.dir('interval'), fsync: 'interval' },
  })
  // The floor under an awaited durable write: a raw round trip whose ROUTER appends and fdatasyncs.
  await using rawDurable = await startRoundTrip(dir, { durableLog: join(root.path, 'raw.log') })
  await using redisAlways = await startRedis({ appendfsync: 'always', dir: root.dir('redis-always') })
  await using redisEverysec = await startRedis({ appendfsync: 'everysec', dir: root.dir('redis-everysec') })
  const redis = { always: await redisAlways?.connect(), everysec: await redisEverysec?.connect() }
  try {
    // Each measurement warms its own path first, then times `count` operations.
    const awaited = (op: (i: number) => Promise<unknown>) => async (): Promise<Latencies> => {
      await sequential(warmup, op)
      return sequential(count, op)
    }
    const zstateAwaited = (client: BenchClient) => awaited((i) => client.state.set(keyOf(i), itemOf(i)))
    const seq = await interleaved({
      always: zstateAwaited(always.client),
      interval: zstateAwaited(interval.client),
      memory: zstateAwaited(memory.client),
      rawDurable: awaited((i) => rawDurable.client.request(i, itemOf(i))),
      redisAlways: redis.always && awaited((i) => redisSetItem(redis.always!, i)),
      redisEverysec: redis.everysec && awaited((i) => redisSetItem(redis.everysec!, i)),
    })
    const zstateBurst = (client: BenchClient) => async (): Promise<number> => {
      await setAll(client, burstWarmup)
      return setAll(client, burst)
    }
    const redisBurst = (client: NonNullable<typeof redis.always>) => async (): Promise<number> => {
      await redisPipelinedSets(client, burstWarmup)
      return redisPipelinedSets(client, burst)
    }
    const par = await interleaved({
      always: zstateBurst(always.client),
      interval: zstateBurst(interval.client),
      memory: zstateBurst(memory.client),
      redisAlways: redis.always && redisBurst(redis.always),
      redisEverysec: redis.everysec && redisBurst(redis.everysec),
    })

    // Restart: one data dir each, filled once, started again in a fresh process every run.
    const zFill = await fillZstate(dir, root.dir('restart'), keys)
    const rFill = await fillRedis(root.dir('redis-restart'), keys)
    const restart = await interleaved({
      zstate: () => zstateStart(dir, zFill),
      fresh: () => zstateStart(dir, undefined),
      redis: rFill && (() => redisRestart(rFill)),
    })

    // What each goal's miss comes from, from the numbers measured here (shown only with a miss).
    const m = (runs: readonly number[]): number => (runs.length === 0 ? NaN : median(runs))
    const perSec = (x: number): string => `${n(Math.round(x))}/s`
    // Mean µs per awaited set, from the throughput the goal is on.
    const mean = (l: Latencies[]): number => 1e6 / m(ops(l))
    const awaitedCause = (policy: Latencies[], what: string, vs: string): string => {
      const [a, b] = [mean(policy), mean(seq.memory)]
      return `${us(a)} per awaited set on average, ${us(b)} without a dataDir: ${us(a - b)} for ${what}${vs}`
    }
    const diskCost = (policy: number[], what: string): string =>
      `${perSec(m(policy))} against ${perSec(m(par.memory))} without a dataDir: the difference is ${what}`
    const burstCause = (): string =>
      m(par.memory) < m(par.redisAlways)
        ? `even without a dataDir zstate reaches only ${perSec(m(par.memory))} here (Redis: ${perSec(m(par.redisAlways))}): the in-flight write path itself, see (b)`
        : diskCost(par.always, 'the log writes and their fsyncs')
    const restartCause = (): string => {
      const [z, f] = [m(restart.zstate), m(restart.fresh)]
      return `${ms(f)} of the ${ms(z)} is starting Node and loading zstate (a fresh server without a dataDir is joined after ${ms(f)}); reading the data dir and rebuilding store and history take the other ${ms(z - f)}`
    }
    const redisName = (fsync: string, shape: string): string =>
      `Redis SET, appendfsync ${fsync}, ${shape} (ioredis)`
    const memoryName = (shape: string): string => `zstate without dataDir, ${shape}`
    return {
      id: 'durability',
      title: '(h) Durability: dataDir with fsync policies vs Redis AOF',
      comparisons: [
        compare(
          'awaited set, fsync always: throughput',
          Unit.opsPerSec,
          ops(seq.always),
          redisName('always', 'sequential'),
          ops(seq.redisAlways),
          {
            op: '≥',
            ratio: 1,
            cause: awaitedCause(
              seq.always,
              'the log write and its fsync',
              `; Redis with appendfsync always: ${us(mean(seq.redisAlways))}, with appendfsync everysec ${us(mean(seq.redisEverysec))}; the floor over ZeroMQ, a raw round trip whose ROUTER appends and fdatasyncs, ${us(mean(seq.rawDurable))} (next row)`,
            ),
          },
        ),
        compare(
          'awaited set, fsync always: throughput',
          Unit.opsPerSec,
          ops(seq.always),
          'raw DEALER→ROUTER round trip, the ROUTER appending each request to a file and fdatasyncing it',
          ops(seq.rawDurable),
        ),
        compare(
          'awaited set, fsync always: p50 latency',
          Unit.us,
          p50(seq.always),
          redisName('always', 'sequential'),
          p50(seq.redisAlways),
        ),
        compare(
          `${n(burst)} sets in flight, fsync always`,
          Unit.opsPerSec,
          par.always,
          redisName('always', 'pipelines of 1,000'),
          par.redisAlways,
          { op: '≥', ratio: 1, cause: burstCause() },
        ),
        compare(
          `${n(burst)} sets in flight, fsync always`,
          Unit.opsPerSec,
          par.always,
          memoryName('in flight'),
          par.memory,
        ),
        compare(
          'awaited set, fsync interval: throughput',
          Unit.opsPerSec,
          ops(seq.interval),
          memoryName('sequential'),
          ops(seq.memory),
          { op: '≥', ratio: 0.9, cause: awaitedCause(seq.interval, 'appending to the log', '') },
        ),
        compare(
          `${n(burst)} sets in flight, fsync interval`,
          Unit.opsPerSec,
          par.interval,
          memoryName('in flight'),
          par.memory,
          { op: '≥', ratio: 0.9, cause: diskCost(par.interval, 'the log writes') },
        ),
        compare(
          'awaited set, fsync interval: throughput',
          Unit.opsPerSec,
          ops(seq.interval),
          redisName('everysec', 'sequential'),
          ops(seq.redisEverysec),
        ),
        compare(
          `${n(burst)} sets in flight, fsync interval`,
          Unit.opsPerSec,
          par.interval,
          redisName('everysec', 'pipelines of 1,000'),
          par.redisEverysec,
        ),
        compare(
          `restart with ${n(keys)} keys: spawn until answered`,
          Unit.us,
          restart.zstate,
          'redis-server loading the same keys from its AOF, spawn until PONG',
          restart.redis,
          { op: '≤', ratio: 1, cause: restartCause() },
        ),
        compare(
          `restart with ${n(keys)} keys: spawn until answered`,
          Unit.us,
          restart.zstate,
          'fresh zstate server without dataDir, spawn until joined',
          restart.fresh,
        ),
        ...diskRows(zFill, rFill),
      ],
      notes: [
        `data dirs and Redis's dir in a fresh temp dir on ${root.filesystem} (${root.path}, removed afterwards); every zstate server and redis-server in its own process, each with its own dir`,
        `awaited: ${n(count)} sets per run, each awaited before the next, after ${n(warmup)} warm-up; in flight: ${n(burst)} state.set calls at once (after ${n(burstWarmup)} warm-up), one revision each, against Redis pipelines of 1,000 SETs; ~107-byte values (Redis stores their JSON)`,
        "fsync 'always' against zstate without a dataDir (no goal): with group commit one fsync covers every turn finished meanwhile, so in flight it should come close to the memory-only figure",
        "fsync 'always': a turn's commits are fsynced before anyone hears of them, one fsync per batch of turns (group commit); Redis appendfsync always fsyncs once per event-loop pass, before replying",
        `restart: a data dir filled with ${n(keys)} sets (one revision each, so the history, at its default bound of 10,000 revisions, ${keys >= 10_000 ? 'is full' : 'holds them all'}) and closed, then per run a fresh process on it (plain node running dist/, startServer({ dataDir }): run npm run build first) timed from fork until a client (replicate: []) has joined; checked: the revision and the last key. Redis: the same keys SET into an AOF (appendonly yes, no rewrite), redis-server timed from spawn until PING answers PONG (LOADING before), checked: DBSIZE`,
        ...zFill.notes,
      ],
    }
  } finally {
    await Promise.all([redis.always?.quit(), redis.everysec?.quit()])
  }
})

// Bytes on disk for the restart's writes, measured once (they do not vary between runs).
function diskRows(z: ZstateFill, r: RedisFill | undefined): Comparison[] {
  const one = (x: number | undefined): number[] => (x === undefined ? [] : [x])
  const mib = (bytes: number | undefined): number | undefined =>
    bytes === undefined ? undefined : bytes / 2 ** 20
  return [
    compare(
      'log bytes per commit',
      Unit.bytes,
      [z.logBytesPerCommit],
      'Redis AOF bytes per SET',
      one(r?.aofBytesPerSet),
    ),
    compare(
      z.snapshotBytes === undefined
        ? `log after ${n(z.keys)} sets (no snapshot)`
        : `snapshot of ${n(z.keys)} keys`,
      Unit.mib,
      [mib(z.snapshotBytes ?? z.logBytes)!],
      'Redis RDB (SAVE) of the same keys',
      one(mib(r?.rdbBytes)),
    ),
  ]
}
