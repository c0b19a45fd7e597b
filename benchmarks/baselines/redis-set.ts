import type { Redis } from 'ioredis'
import { inFlight } from '../support/measure.ts'
import { itemOf, keyOf } from '../support/values.ts'

// Redis SET through ioredis: the well-known yardstick for "a networked key/value write". Values are the
// JSON of the same items zstate stores (a Redis user has to serialise them too).

// One SET of item i: awaited one after another, the counterpart of sequential state.set.
export function redisSetItem(redis: Redis, i: number): Promise<unknown> {
  return redis.set(keyOf(i), JSON.stringify(itemOf(i)))
}

// `count` SETs in pipelines of 1,000 (the fastest shape measured here: one 100k pipeline and
// Promise.all with auto-pipelining were both slower), the Redis counterpart of writes in flight.
export function redisPipelinedSets(redis: Redis, count: number, pipelineLength = 1_000): Promise<number> {
  return inFlight(count, async () => {
    for (let from = 0; from < count; from += pipelineLength) {
      const pipeline = redis.pipeline()
      const to = Math.min(count, from + pipelineLength)
      for (let i = from; i < to; i++) pipeline.set(keyOf(i), JSON.stringify(itemOf(i)))
      const results = await pipeline.exec()
      if (results?.length !== to - from)
        throw new Error(`a pipeline answered ${results?.length} of ${to - from}`)
    }
  })
}
