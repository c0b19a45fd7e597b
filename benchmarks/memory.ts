import type { Redis } from 'ioredis'
import { redisPipelinedSets } from './baselines/redis-set.ts'
import { runs, scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import type { Memory } from './support/memory.ts'
import { forkSide, stopAll, type Side } from './support/processes.ts'
import { startRedis } from './support/redis.ts'
import { n } from './support/format.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { startStateServer } from './support/zstate.ts'

// (e) Memory for 100,000 keys of ~100 bytes: growth of the server and of a client replica, each in a
// fresh process measured after a full GC, against the same data in a plain Map (fresh process) and in
// Redis. Growth, not totals, so Node's own ~40 MiB does not blur the comparison.

interface Growth {
  readonly heap: number
  readonly rss: number
}

async function growth(sides: readonly Side[], work: () => Promise<unknown>): Promise<Growth[]> {
  const before = await Promise.all(sides.map((side) => side.call<Memory>('memory')))
  await work()
  const after = await Promise.all(sides.map((side) => side.call<Memory>('memory')))
  return after.map((a, k) => ({
    heap: a.heapMiB - (before[k]?.heapMiB ?? 0),
    rss: a.rssMiB - (before[k]?.rssMiB ?? 0),
  }))
}

async function redisRssMiB(redis: Redis): Promise<number> {
  const info = await redis.info('memory')
  const rss = /used_memory_rss:(\d+)/.exec(info)?.[1]
  if (rss === undefined) throw new Error('INFO memory has no used_memory_rss')
  return Number(rss) / 2 ** 20
}

runScenario(import.meta.url, async () => {
  const size = scaled(100_000)
  await using dir = await ipcDir()
  const results = {
    client: [] as Growth[],
    server: [] as Growth[],
    map: [] as Growth[],
    redisRss: [] as number[],
  }
  const absolute: string[] = []
  for (let run = 0; run < runs; run++) {
    // Fresh processes every run: memory that earlier runs left behind must not count.
    await using server = await startStateServer(dir, `memory-${run}`)
    const client = await forkSide(new URL('./sides/state-client.ts', import.meta.url), { exposeGc: true })
    const map = await forkSide(new URL('./sides/map-holder.ts', import.meta.url), { exposeGc: true })
    try {
      await client.call('connect', server.address)
      const [s, c] = await growth([server.side, client], () => client.call('fill', size))
      const [m] = await growth([map], () => map.call('fill', size))
      if (s === undefined || c === undefined || m === undefined) throw new Error('missing memory reading')
      results.server.push(s)
      results.client.push(c)
      results.map.push(m)
      const totals = await Promise.all([server.side, client].map((side) => side.call<Memory>('memory')))
      absolute.push(totals.map((t) => t.rssMiB.toFixed(0)).join(' / '))
      await using redis = await startRedis()
      if (redis !== undefined) {
        const r = await redis.connect()
        const before = await redisRssMiB(r)
        await redisPipelinedSets(r, size)
        results.redisRss.push((await redisRssMiB(r)) - before)
        await r.quit()
      }
    } finally {
      await stopAll([client, map])
    }
  }
  const heap = (g: Growth[]): number[] => g.map((x) => x.heap)
  const rss = (g: Growth[]): number[] => g.map((x) => x.rss)
  return {
    id: 'memory',
    title: `(e) Memory for ${n(size)} keys of ~100 bytes`,
    comparisons: [
      compare(
        'client replica, heap growth',
        Unit.mib,
        heap(results.client),
        'Map in a fresh process, heap',
        heap(results.map),
      ),
      compare(
        'client replica, RSS growth',
        Unit.mib,
        rss(results.client),
        'Map in a fresh process, RSS',
        rss(results.map),
      ),
      compare(
        'server, heap growth',
        Unit.mib,
        heap(results.server),
        'Map in a fresh process, heap',
        heap(results.map),
      ),
      compare(
        'server, RSS growth',
        Unit.mib,
        rss(results.server),
        'redis-server, RSS growth',
        results.redisRss,
      ),
    ],
    notes: [
      `filled by the client with updates of 1,000 keys; the server's history ring (default bounds) keeps those revisions`,
      `total RSS after filling, server / client, per run: ${absolute.join('; ')} MiB`,
    ],
  }
})
