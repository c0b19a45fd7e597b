import type { Redis } from 'ioredis'

// Redis counterparts of zstate's increments: an optimistic read-modify-write with WATCH/MULTI/EXEC
// (what state.atomic does), and INCR, which runs inside the server (what state.increment and
// state.run do).

// One increment by WATCH, GET, MULTI/SET/EXEC, retried at once whenever EXEC aborts because the key
// changed after WATCH; resolves with the number of retries it took. Needs a connection of its own.
export async function redisOptimisticIncrement(redis: Redis, key: string): Promise<number> {
  for (let retries = 0; ; retries++) {
    await redis.watch(key)
    const current = Number((await redis.get(key)) ?? 0)
    const results = await redis
      .multi()
      .set(key, String(current + 1))
      .exec()
    if (results === null) continue // aborted: someone wrote the key after WATCH
    const error = results[0]?.[0]
    if (error !== null && error !== undefined) throw error
    return retries
  }
}

// `count` INCRs of one key in pipelines of 1,000 (the fastest shape measured for SET, see redis-set.ts).
export async function redisPipelinedIncrements(redis: Redis, key: string, count: number): Promise<void> {
  for (let from = 0; from < count; from += 1_000) {
    const pipeline = redis.pipeline()
    const to = Math.min(count, from + 1_000)
    for (let i = from; i < to; i++) pipeline.incr(key)
    const results = await pipeline.exec()
    if (results?.length !== to - from)
      throw new Error(`a pipeline answered ${results?.length} of ${to - from}`)
    for (const [error] of results) if (error !== null) throw error
  }
}
