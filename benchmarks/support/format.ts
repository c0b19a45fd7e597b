import { goalMet, Unit, type Comparison, type Goal } from './report.ts'
import type { Spread } from './stats.ts'

// How numbers read in the console and in docs/benchmarks.md.

// Counts as people read them: 100,000.
export function n(count: number): string {
  return count.toLocaleString('en')
}

export function formatNumber(value: number, unit: Unit): string {
  if (unit === Unit.count) return n(Math.round(value))
  if (unit === Unit.us && value >= 10_000) return `${(value / 1e3).toFixed(1)} ms`
  if (unit === Unit.opsPerSec) {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M/s`
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k/s`
    return `${value.toFixed(0)}/s`
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
  return `${value.toFixed(digits)} ${unit}`
}

export function formatSpread(s: Spread | undefined, unit: Unit): string {
  if (s === undefined) return 'skipped'
  return `${formatNumber(s.median, unit)} (${formatNumber(s.min, unit)}–${formatNumber(s.max, unit)})`
}

export function formatRatio(s: Spread | undefined): string {
  if (s === undefined) return '—'
  return `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`
}

// A goal without its verdict: ≥ 0.9×, ≤ 0.
export function formatTarget(goal: Goal, unit: Unit): string {
  return `${goal.op} ${'value' in goal ? formatNumber(goal.value, unit) : `${goal.ratio}×`}`
}

// The goal with its verdict, and after a ✗ the cause the scenario measured: ≥ 0.9× ✗ — cause: ….
export function formatGoal(c: Comparison): string {
  if (c.goal === undefined) return '—'
  const met = goalMet(c)
  const verdict = met === undefined ? '' : met ? ' ✓' : ' ✗'
  const cause = met === false && c.cause !== undefined ? ` — cause: ${c.cause}` : ''
  return `${formatTarget(c.goal, c.unit)}${verdict}${cause}`
}
