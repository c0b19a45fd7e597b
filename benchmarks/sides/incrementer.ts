import type { Redis } from 'ioredis'
import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { counterClient, type CounterClient } from '../baselines/raw-counter.ts'
import { redisOptimisticIncrement, redisPipelinedIncrements } from '../baselines/redis-increment.ts'
import { nowUs } from '../support/clock.ts'
import type { IncrementReport, IncrementTask } from '../support/increments.ts'
import { serveSide } from '../support/processes.ts'
import { connectRedis } from '../support/redis.ts'

const { connect } = zstatePackage

// One of the four processes of the transactions benchmark: increments a counter `count` times through
// zstate (atomic, increment, run), Redis (WATCH/MULTI/EXEC, INCR) or a raw DEALER→ROUTER counter
// (raw), awaited one by one or all in flight, and reports when it started and ended (on the machine-wide monotonic clock), each awaited
// increment's latency, and how many retries the optimistic methods needed.
let client: Client<Record<string, number>> | undefined
let writer: Client<Record<string, number>> | undefined
let serverAddress = ''

// Only one of the two zstate clients is open during a pass: a full replica left open beside the
// writer would receive every commit and blur what replicating nothing saves.
async function openFor(method: IncrementTask['method']): Promise<void> {
  const pure = method === 'increment-writer' || method === 'run-writer'
  if (pure) {
    await client?.close()
    client = undefined
    writer ??= await connect(serverAddress, { name: 'incrementer (writer)', replicate: [] })
  } else {
    await writer?.close()
    writer = undefined
    client ??= await connect(serverAddress, { name: 'incrementer' })
  }
}
let redis: Redis | undefined
let counter: CounterClient | undefined

function zstate(): Client<Record<string, number>> {
  if (client === undefined) throw new Error('call connect first')
  return client
}

function pureWriter(): Client<Record<string, number>> {
  if (writer === undefined) throw new Error('call connect first')
  return writer
}

function redisClient(): Redis {
  if (redis === undefined) throw new Error('no Redis: call connect with a port first')
  return redis
}

function rawCounter(): CounterClient {
  if (counter === undefined) throw new Error('no raw counter: call connect with its endpoint first')
  return counter
}

// One increment of `key`; resolves with the retries it took (known per call for Redis only).
function incrementOnce(method: IncrementTask['method'], key: string): Promise<unknown> {
  switch (method) {
    case 'atomic':
      return zstate().state.atomic((draft) => {
        draft[key] = (draft[key] ?? 0) + 1
      })
    case 'increment':
      return zstate().state.increment(key)
    case 'run':
      return zstate().state.run('increment', key)
    case 'increment-writer':
      return pureWriter().state.increment(key)
    case 'run-writer':
      return pureWriter().state.run('increment', key)
    case 'watch':
      return redisOptimisticIncrement(redisClient(), key)
    case 'incr':
      return redisClient().incr(key)
    case 'raw':
      return rawCounter().increment(key)
  }
}

async function awaited(task: IncrementTask): Promise<IncrementReport> {
  const latenciesUs = new Array<number>(task.count)
  const conflictsBefore = client?.metrics().conflicts ?? 0
  let redisRetries = 0
  const startUs = nowUs()
  for (let i = 0; i < task.count; i++) {
    const t = nowUs()
    const outcome = await incrementOnce(task.method, task.key)
    latenciesUs[i] = nowUs() - t
    if (task.method === 'watch') redisRetries += outcome as number
  }
  const endUs = nowUs()
  const conflicts = (client?.metrics().conflicts ?? 0) - conflictsBefore
  return { startUs, endUs, latenciesUs, retries: task.method === 'watch' ? redisRetries : conflicts }
}

async function inFlight(task: IncrementTask): Promise<IncrementReport> {
  const startUs = nowUs()
  if (task.method === 'incr') await redisPipelinedIncrements(redisClient(), task.key, task.count)
  else if (task.method !== 'atomic' && task.method !== 'watch' && task.method !== 'raw')
    await Promise.all(Array.from({ length: task.count }, () => incrementOnce(task.method, task.key)))
  else throw new Error(`${task.method} is measured awaited only`)
  return { startUs, endUs: nowUs(), latenciesUs: [], retries: 0 }
}

serveSide(
  {
    async connect(address: string, redisPort: number | undefined, counterEndpoint?: string) {
      serverAddress = address
      if (redisPort !== undefined) redis = await connectRedis(redisPort)
      if (counterEndpoint !== undefined) counter = counterClient(counterEndpoint)
    },
    async run(task: IncrementTask) {
      await openFor(task.method)
      return task.shape === 'awaited' ? awaited(task) : inFlight(task)
    },
  },
  async () => {
    counter?.[Symbol.dispose]()
    await redis?.quit()
    await client?.close()
    await writer?.close()
  },
)
