// The demo's map(): count the primes in a range, in a worker, and the parent's sieve to check them.
import type { WorkerContext } from '../process/types.ts'
import type { DemoState } from './demo-shared.ts'

// Sent to the map workers as source text, so it is self-contained: no imports, no outer names.
export async function countPrimes(
  ctx: WorkerContext<DemoState>,
  [from, to]: [number, number],
): Promise<number> {
  const me = `mapper:${process.pid}` as const
  if (!ctx.state.has(me)) await ctx.state.set(me, true)
  let count = 0
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = n === 2 || n % 2 === 1
    for (let d = 3; prime && d * d <= n; d += 2) if (n % d === 0) prime = false
    if (prime) count++
  }
  await ctx.state.increment('chunks')
  return count
}

// The primes in each chunk, counted here with a sieve of Eratosthenes.
export function primesPerChunk(chunks: readonly [number, number][], limit: number): number[] {
  const composite = new Uint8Array(limit)
  for (let n = 2; n * n < limit; n++)
    if (composite[n] === 0) for (let m = n * n; m < limit; m += n) composite[m] = 1
  return chunks.map(([from, to]) => {
    let count = 0
    for (let n = Math.max(2, from); n < to; n++) if (composite[n] === 0) count++
    return count
  })
}
