import { goalMet, Unit, type Comparison } from './report.ts'
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

export function formatGoal(c: Comparison): string {
  const { goal } = c
  if (goal === undefined) return '—'
  const met = goalMet(c)
  const target = 'value' in goal ? formatNumber(goal.value, c.unit) : `${goal.ratio}×`
  return `${goal.op} ${target}${met === undefined ? '' : met ? ' ✓' : ' ✗'}`
}
