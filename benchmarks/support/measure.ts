import { nowUs } from './clock.ts'
import { percentile } from './stats.ts'

// The three shapes every benchmark here takes: one operation at a time, everything in flight at once,
// and a tight synchronous loop.

export interface Latencies {
  readonly opsPerSec: number
  readonly p50Us: number
  readonly p99Us: number
}

// One outstanding operation: each is awaited before the next starts.
export async function sequential(count: number, op: (i: number) => Promise<unknown>): Promise<Latencies> {
  const samples = new Array<number>(count)
  const start = nowUs()
  for (let i = 0; i < count; i++) {
    const t = nowUs()
    await op(i)
    samples[i] = nowUs() - t
  }
  const elapsed = nowUs() - start
  return {
    opsPerSec: (count / elapsed) * 1e6,
    p50Us: percentile(samples, 50),
    p99Us: percentile(samples, 99),
  }
}

// Operations per second when `start` launches all `count` operations and resolves when all are done.
export async function inFlight(count: number, start: () => Promise<unknown>): Promise<number> {
  const t = nowUs()
  await start()
  return (count / (nowUs() - t)) * 1e6
}

// Nanoseconds per call of a synchronous fn; the results feed a sink so the JIT cannot drop the calls.
export function tightLoop(count: number, fn: (i: number) => unknown): number {
  let sink = 0
  const t = nowUs()
  for (let i = 0; i < count; i++) if (fn(i) !== undefined) sink++
  const elapsed = nowUs() - t
  if (sink === -1) console.log('unreachable')
  return (elapsed * 1e3) / count
}
