import type { Environment } from './env.ts'
import { pairedRatios, spread, type Spread } from './stats.ts'

// What a scenario produces: comparisons of zstate with a baseline measured in the same runs.

export const Unit = {
  opsPerSec: 'ops/s',
  us: 'µs',
  ns: 'ns',
  mib: 'MiB',
  perCommit: 'per commit',
  count: 'count', // a plain number of things, e.g. lost changes
} as const
export type Unit = (typeof Unit)[keyof typeof Unit]

// A goal on the ratio to the baseline (met by the median of the paired ratios), or on zstate's own
// number (`value`, e.g. 0 lost changes), which must then hold in every run.
export type Goal =
  { readonly op: '≥' | '≤'; readonly ratio: number } | { readonly op: '≥' | '≤'; readonly value: number }

export interface Comparison {
  readonly label: string
  readonly unit: Unit
  readonly zstate: Spread
  readonly baselineName: string
  readonly baseline: Spread | undefined // undefined: the baseline was skipped (e.g. no Redis)
  readonly ratio: Spread | undefined // zstate ÷ baseline, paired per run
  readonly goal: Goal | undefined
}

export interface ScenarioResult {
  readonly id: string
  readonly title: string
  readonly section?: string // a table of its own in docs/benchmarks.md (default: Results)
  readonly comparisons: readonly Comparison[]
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
  goal?: Goal,
): Comparison {
  // A baseline that did not run, or did not grow (memory at tiny scales), has no meaningful ratio.
  const measured = baseline.length > 0 && baseline.every((b) => b > 0)
  return {
    label,
    unit,
    zstate: spread(zstate),
    baselineName,
    baseline: baseline.length > 0 ? spread(baseline) : undefined,
    ratio: measured ? spread(pairedRatios(zstate, baseline)) : undefined,
    goal,
  }
}

export function goalMet(c: Comparison): boolean | undefined {
  const { goal } = c
  if (goal === undefined) return undefined
  if ('value' in goal) return goal.op === '≥' ? c.zstate.min >= goal.value : c.zstate.max <= goal.value
  if (c.ratio === undefined) return undefined
  return goal.op === '≥' ? c.ratio.median >= goal.ratio : c.ratio.median <= goal.ratio
}
