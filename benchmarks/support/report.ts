import type { Environment } from './env.ts'
import { pairedRatios, spread, type Spread } from './stats.ts'

// What a scenario produces: comparisons of zstate with a baseline measured in the same runs.

export const Unit = {
  opsPerSec: 'ops/s',
  us: 'µs',
  ns: 'ns',
  mib: 'MiB',
  perCommit: 'per commit',
} as const
export type Unit = (typeof Unit)[keyof typeof Unit]

export interface Goal {
  readonly op: '≥' | '≤'
  readonly ratio: number
}

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
  if (c.goal === undefined || c.ratio === undefined) return undefined
  return c.goal.op === '≥' ? c.ratio.median >= c.goal.ratio : c.ratio.median <= c.goal.ratio
}
