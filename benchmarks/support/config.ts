import { env } from 'node:process'

// Counts are written at full scale; BENCH_SCALE shrinks them for a smoke run (0.02 runs everything in
// well under a minute) and BENCH_RUNS sets how many runs each median is taken over (default 5: medians
// of at least five interleaved runs, with their ranges).

function numberFromEnv(name: string, fallback: number, minimum: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < minimum) {
    throw new RangeError(`${name} must be a number ≥ ${minimum}, got ${JSON.stringify(raw)}`)
  }
  return value
}

export const scale = numberFromEnv('BENCH_SCALE', 1, 0.0001)
export const runs = Math.round(numberFromEnv('BENCH_RUNS', 5, 1))

// A full-scale count shrunk by BENCH_SCALE, never below `floor` so tiny scales still measure something.
export function scaled(fullCount: number, floor = 100): number {
  return Math.max(Math.min(floor, fullCount), Math.round(fullCount * scale))
}
