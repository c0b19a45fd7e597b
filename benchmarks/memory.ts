import { setTimeout as sleep } from 'node:timers/promises'
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
import { median } from './support/stats.ts'
import { startStateServer } from './support/zstate.ts'

// (e) Memory for 100,000 keys of ~100 bytes: growth of the server and of a client replica, each in a
// fresh process measured after a full GC, against the same data in a plain Map (fresh process) and in
// Redis. Growth, not totals, so Node's own ~40 MiB does not blur the comparison.
//
// Every reading is taken once the process has settled. V8 grows a process's young generation (up to
// 32 MiB) during a burst of allocation, and gives it back only after a few idle seconds; read at once,
// RSS counts that reserve, before the fill or after it, whichever it happens to be, and no data needs
// it. Redis is read once its RSS is steady too.

interface Growth {
  // V8 heap plus ArrayBuffer memory: the server keeps its values as encoded bytes, outside the heap.
  readonly heap: number
  readonly rss: number
}

// Settled: RSS steady (within STEADY_MIB) over STEADY_READINGS readings a second apart, and for a
// Node process its young generation at its floor in all of them. V8 gives back other pages up to ten
// seconds after it gives back the young generation (its memory reducer runs again), so the window is
// long: a "before" read early would count pages as data that the fill merely reuses.
const STEADY_MIB = 0.5
const STEADY_READINGS = 15
const SETTLE_MS = 60_000

interface Settled {
  readonly memory: Memory
  readonly settled: boolean
}

// Redis (jemalloc, no collector) needs no such wait: steady over a few readings.
const REDIS_STEADY_READINGS = 3

function steady(rss: readonly number[], readings: number): boolean {
  const last = rss.slice(-readings)
  return last.length === readings && Math.max(...last) - Math.min(...last) <= STEADY_MIB
}

// A side's memory once settled, or after SETTLE_MS at most (then `settled` is false, and the notes
// say so).
async function settle(side: Side): Promise<Settled> {
  const deadline = Date.now() + SETTLE_MS
  const rss: number[] = []
  for (;;) {
    const memory = await side.call<Memory>('memory')
    // A reading with a young generation above its floor starts the count again.
    if (memory.youngMiB > memory.youngFloorMiB) rss.length = 0
    else rss.push(memory.rssMiB)
    const settled = steady(rss, STEADY_READINGS)
    if (settled || Date.now() > deadline) return { memory, settled }
    await sleep(1000)
  }
}

function growth(before: Memory, after: Memory): Growth {
  return {
    heap: after.heapMiB + after.buffersMiB - (before.heapMiB + before.buffersMiB),
    rss: after.rssMiB - before.rssMiB,
  }
}

async function redisRssMiB(redis: Redis): Promise<number> {
  const info = await redis.info('memory')
  const rss = /used_memory_rss:(\d+)/.exec(info)?.[1]
  if (rss === undefined) throw new Error('INFO memory has no used_memory_rss')
  return Number(rss) / 2 ** 20
}

async function redisSettledRssMiB(redis: Redis): Promise<number> {
  const deadline = Date.now() + SETTLE_MS
  const rss: number[] = []
  for (;;) {
    rss.push(await redisRssMiB(redis))
    if (steady(rss, REDIS_STEADY_READINGS) || Date.now() > deadline) return rss[rss.length - 1]!
    await sleep(1000)
  }
}

const mib = (x: number): string => x.toFixed(1)

runScenario(import.meta.url, async () => {
  const size = scaled(100_000)
  await using dir = await ipcDir()
  const results = {
    client: [] as Growth[],
    server: [] as Growth[],
    map: [] as Growth[],
    redisRss: [] as number[],
    // The server's growth read at once after filling, and the split of its settled growth.
    serverAtOnce: [] as number[],
    serverHeap: [] as number[],
    serverBuffers: [] as number[],
  }
  const absolute: string[] = []
  const unsettled = new Set<string>()
  for (let run = 0; run < runs; run++) {
    // Fresh processes every run: memory that earlier runs left behind must not count.
    await using server = await startStateServer(dir, `memory-${run}`)
    const client = await forkSide(new URL('./sides/state-client.ts', import.meta.url), { exposeGc: true })
    const map = await forkSide(new URL('./sides/map-holder.ts', import.meta.url), { exposeGc: true })
    const sides = { server: server.side, client, map }
    const settleAll = async (): Promise<Record<keyof typeof sides, Memory>> => {
      const names = Object.keys(sides) as (keyof typeof sides)[]
      const readings = await Promise.all(names.map((name) => settle(sides[name])))
      readings.forEach((r, k) => {
        if (!r.settled) unsettled.add(names[k]!)
      })
      return Object.fromEntries(readings.map((r, k) => [names[k], r.memory])) as Record<
        keyof typeof sides,
        Memory
      >
    }
    try {
      await client.call('connect', server.address)
      const before = await settleAll()
      await client.call('fill', size)
      const atOnce = await server.side.call<Memory>('memory')
      await map.call('fill', size)
      const after = await settleAll()
      results.server.push(growth(before.server, after.server))
      results.client.push(growth(before.client, after.client))
      results.map.push(growth(before.map, after.map))
      results.serverAtOnce.push(atOnce.rssMiB - before.server.rssMiB)
      results.serverHeap.push(after.server.heapMiB - before.server.heapMiB)
      results.serverBuffers.push(after.server.buffersMiB - before.server.buffersMiB)
      absolute.push(`${after.server.rssMiB.toFixed(0)} / ${after.client.rssMiB.toFixed(0)}`)
      await using redis = await startRedis()
      if (redis !== undefined) {
        const r = await redis.connect()
        const before = await redisSettledRssMiB(r)
        await redisPipelinedSets(r, size)
        results.redisRss.push((await redisSettledRssMiB(r)) - before)
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
        'client replica, heap + buffers growth',
        Unit.mib,
        heap(results.client),
        'Map in a fresh process, heap + buffers',
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
        'server, heap + buffers growth',
        Unit.mib,
        heap(results.server),
        'Map in a fresh process, heap + buffers',
        heap(results.map),
      ),
      compare(
        'server, RSS growth',
        Unit.mib,
        rss(results.server),
        'redis-server, RSS growth',
        results.redisRss,
        { op: '≤', ratio: 2 },
      ),
    ],
    notes: [
      `filled by the client with updates of 1,000 keys; the server's history ring (default bounds) keeps those revisions`,
      `every reading after a full GC, once the process has settled (young generation back at its floor and RSS steady for ${STEADY_READINGS} readings a second apart; Redis: ${REDIS_STEADY_READINGS})` +
        (unsettled.size > 0
          ? `; did not settle within ${SETTLE_MS / 1000} s: ${[...unsettled].join(', ')}`
          : ''),
      `server growth, median: ${mib(median(results.serverHeap))} MiB heap, ${mib(median(results.serverBuffers))} MiB ArrayBuffers (values kept encoded); RSS growth read at once after filling, before the young generation is given back: ${mib(median(results.serverAtOnce))} MiB`,
      `total RSS after filling, server / client, per run: ${absolute.join('; ')} MiB`,
    ],
  }
})
