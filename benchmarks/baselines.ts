import { startRelay } from './baselines/relay.ts'
import { startRoundTrip } from './baselines/round-trip.ts'
import { redisPipelinedSets, redisSetItem } from './baselines/redis-set.ts'
import { runs, scaled } from './support/config.ts'
import { describeEnvironment, environment } from './support/env.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, tightLoop } from './support/measure.ts'
import { startRedis } from './support/redis.ts'
import { percentile } from './support/stats.ts'
import { formatNumber, n } from './support/format.ts'
import { Unit } from './support/report.ts'
import { itemOf, keyOf } from './support/values.ts'

// The baselines alone, without zstate: what the machine and the raw transports can do. The scenarios
// measure the same baselines again in their own runs; this script is for a quick look at the floor.

const line = (label: string, text: string): void => console.log(`  ${label.padEnd(44)} ${text}`)
const ops = (perSec: number): string => formatNumber(perSec, Unit.opsPerSec)

console.log(describeEnvironment(environment()))
await using dir = await ipcDir()

for (let run = 1; run <= runs; run++) {
  console.log(`run ${run}`)
  {
    await using roundTrip = await startRoundTrip(dir)
    const r = await sequential(scaled(10_000), (i) => roundTrip.client.request(i, itemOf(i)))
    line(
      'DEALER→ROUTER round trip',
      `${ops(r.opsPerSec)}  p50 ${r.p50Us.toFixed(0)} µs  p99 ${r.p99Us.toFixed(0)} µs`,
    )
  }
  {
    await using relay = await startRelay(dir)
    const l = await relay.latencies(scaled(2_000), 100)
    line(
      'relay A→ROUTER→PUB→SUB B latency',
      `p50 ${percentile(l, 50).toFixed(0)} µs  p99 ${percentile(l, 99).toFixed(0)} µs`,
    )
  }
  {
    await using redis = await startRedis()
    if (redis !== undefined) {
      const client = await redis.connect()
      const s = await sequential(scaled(10_000), (i) => redisSetItem(client, i))
      line(
        'Redis SET sequential',
        `${ops(s.opsPerSec)}  p50 ${s.p50Us.toFixed(0)} µs  p99 ${s.p99Us.toFixed(0)} µs`,
      )
      const count = scaled(100_000)
      line(
        `Redis SET pipelined, ${n(count)} in pipelines of 1,000`,
        ops(await redisPipelinedSets(client, count)),
      )
      await client.quit()
    }
  }
  {
    // Own key strings in the Map, other string objects for the lookups, as in get.ts.
    const size = scaled(100_000)
    const map = new Map(Array.from({ length: size }, (_, i) => [keyOf(i), itemOf(i)]))
    const lookupKeys = Array.from({ length: size }, (_, i) => keyOf((i * 7_919) % size))
    const ns = tightLoop(5_000_000, (i) => map.get(lookupKeys[i % size] as string))
    line(`Map.get on ${n(size)} keys`, `${ns.toFixed(1)} ns/op (${ops(1e9 / ns)})`)
  }
}
