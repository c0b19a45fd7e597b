// Summary statistics for benchmark samples: percentiles within a run, medians and ranges across runs.

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

// Nearest-rank percentile (p in 0..100): always a value that was actually measured.
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('percentile of no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('median of no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

// One number per run in, the median and the range out: the form every table cell takes.
export function spread(perRun: readonly number[]): Spread {
  return { median: median(perRun), min: Math.min(...perRun), max: Math.max(...perRun) }
}

// Ratios are paired run by run (zstate and baseline of the same run share the machine's mood).
export function pairedRatios(numerators: readonly number[], denominators: readonly number[]): number[] {
  if (numerators.length !== denominators.length) throw new RangeError('ratio of unpaired runs')
  return numerators.map((n, i) => n / (denominators[i] as number))
}
