import { pack, unpack } from 'msgpackr'
import { Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline server for awaited increments: a ROUTER that decodes each increment request
// ([[id, op, key, by]], shaped like zstate's), adds `by` to its counter for `key` and answers
// [[id, OK, value]]. No history, no publishing, no fan-out: one round trip per increment.
const router = new Router({ sendTimeout: 0 })
const counters = new Map<string, number>()

function isRequest(value: unknown): value is [[number, number, string, number]] {
  if (!Array.isArray(value) || value.length !== 1) return false
  const [request] = value as unknown[]
  return (
    Array.isArray(request) &&
    typeof request[0] === 'number' &&
    typeof request[2] === 'string' &&
    typeof request[3] === 'number'
  )
}

async function count(): Promise<void> {
  for await (const [identity, body] of router) {
    if (identity === undefined || body === undefined) continue
    const decoded = unpack(body) as unknown
    if (!isRequest(decoded)) throw new Error('counter-router: not an increment request')
    const [[id, , key, by]] = decoded
    const value = (counters.get(key) ?? 0) + by
    counters.set(key, value)
    await router.send([identity, pack([[id, 0, value]])])
  }
}

serveSide(
  {
    async bind(endpoint: string) {
      await router.bind(endpoint)
      void count().catch((error: unknown) => console.error('counter-router:', error))
    },
    get: (key: string) => counters.get(key),
  },
  () => router.close(),
)
