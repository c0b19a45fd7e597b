import type { Environment } from './env.ts'
import { pairedRatios, spread, type Spread } from './stats.ts'

// What a scenario produces: comparisons of zstate with a baseline measured in the same runs.

export const Unit = {
  opsPerSec: 'ops/s',
  us: 'µs',
  ns: 'ns',
  mib: 'MiB',
  bytes: 'bytes',
  perCommit: 'per commit',
  count: 'count', // a plain number of things, e.g. lost changes
} as const
export type Unit = (typeof Unit)[keyof typeof Unit]

// A goal on the ratio to the baseline (met by the median of the paired ratios), or on zstate's own
// number (`value`, e.g. 0 lost changes), which must then hold in every run.
export type Goal =
  { readonly op: '≥' | '≤'; readonly ratio: number } | { readonly op: '≥' | '≤'; readonly value: number }

// A goal as a scenario states it, with what the scenario measured as the cause of a miss (e.g. "start-up
// is 300 ms of the 400 ms"), shown only when the goal is missed: after the ✗ in docs/benchmarks.md and
// in the console, and with the row in docs/benchmarks.svg. Undefined: no cause measured.
export type GoalOptions = Goal & { readonly cause?: string | undefined }

export interface Comparison {
  readonly label: string
  readonly unit: Unit
  readonly zstate: Spread
  readonly baselineName: string
  readonly baseline: Spread | undefined // undefined: the baseline was skipped (e.g. no Redis)
  readonly ratio: Spread | undefined // zstate ÷ baseline, paired per run
  readonly goal: Goal | undefined
  readonly cause?: string // why a missed goal was missed, as the scenario measured it (one line)
}

// Latency at each of PERCENTILES for zstate and its baseline, drawn by latency-chart.ts: per series,
// the median over runs of each percentile.
export const PERCENTILES = [50, 75, 90, 95, 99, 99.9] as const

export interface Distribution {
  readonly label: string
  readonly unit: Unit
  readonly series: readonly { readonly name: string; readonly values: readonly number[] }[]
}

export interface ScenarioResult {
  readonly id: string
  readonly title: string
  readonly section?: string // a table of its own in docs/benchmarks.md (default: Results)
  readonly comparisons: readonly Comparison[]
  readonly distributions?: readonly Distribution[]
  readonly notes: readonly string[]
  readonly environment: Environment
}

// Builds a comparison from per-run numbers; `baseline` is empty when that baseline was skipped.
export function compare(
  label: string,
  unit: Unit,
  zstate: readonly number[],
  baselineName: string,
  baseline: readonly number[],
  goal?: GoalOptions,
): Comparison {
  // A baseline that did not run, or did not grow (memory at tiny scales), has no meaningful ratio.
  const measured = baseline.length > 0 && baseline.every((b) => b > 0)
  // One line, so that it fits a table cell and a row of the chart.
  const cause = goal?.cause?.replace(/\s+/g, ' ').trim()
  if (cause === '') throw new RangeError(`compare(${JSON.stringify(label)}): cause must not be blank`)
  return {
    label,
    unit,
    zstate: spread(zstate),
    baselineName,
    baseline: baseline.length > 0 ? spread(baseline) : undefined,
    ratio: measured ? spread(pairedRatios(zstate, baseline)) : undefined,
    goal: goal === undefined ? undefined : goalOf(goal),
    ...(cause === undefined ? {} : { cause }),
  }
}

function goalOf(options: GoalOptions): Goal {
  return 'value' in options
    ? { op: options.op, value: options.value }
    : { op: options.op, ratio: options.ratio }
}

export function goalMet(c: Comparison): boolean | undefined {
  const { goal } = c
  if (goal === undefined) return undefined
  if ('value' in goal) return goal.op === '≥' ? c.zstate.min >= goal.value : c.zstate.max <= goal.value
  if (c.ratio === undefined) return undefined
  return goal.op === '≥' ? c.ratio.median >= goal.ratio : c.ratio.median <= goal.ratio
}

// How many goals the results meet and miss; unmeasured: a ratio goal whose baseline was skipped.
export interface GoalTally {
  met: number
  missed: number
  unmeasured: number
}

export function tallyGoals(results: readonly ScenarioResult[]): GoalTally {
  const tally = { met: 0, missed: 0, unmeasured: 0 }
  for (const c of results.flatMap((r) => r.comparisons)) {
    if (c.goal === undefined) continue
    const met = goalMet(c)
    if (met === undefined) tally.unmeasured++
    else if (met) tally.met++
    else tally.missed++
  }
  return tally
}
