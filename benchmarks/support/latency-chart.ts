import { formatNumber } from './format.ts'
import { PERCENTILES, type Distribution, type ScenarioResult } from './report.ts'
import { PAD, clip, element, line, paint, stroke, svgDocument, text, type Colour } from './svg.ts'

// Renders docs/benchmarks-latency.svg: for every scenario that measured a latency distribution (the
// watch and topic latencies), zstate's percentiles against its baseline's, so that where the tail
// departs from the floor shows at a glance; run-all.ts writes it with docs/benchmarks.md.

const PLOT_X = 90
const PLOT_W = 500
const TABLE_X = PLOT_X + PLOT_W + 40
const PANEL_H = 244
const PLOT_TOP = 54 // within a panel, below its title
const PLOT_H = 150
const HEADER_H = 70

const seriesColour: readonly Colour[] = ['accent', 'muted']

// 1-2-5 steps from below the smallest value to above the largest.
function logTicks(values: readonly number[]): { ticks: number[]; from: number; to: number } {
  const steps = [0, 1, 2, 3, 4, 5, 6].flatMap((k) => [1, 2, 5].map((m) => m * 10 ** k))
  const usable = values.filter((v) => Number.isFinite(v) && v > 0)
  const from = steps.findLast((s) => s <= Math.min(...usable)) ?? steps[0]!
  const to = steps.find((s) => s >= Math.max(...usable)) ?? steps.at(-1)!
  return { ticks: steps.filter((s) => s >= from && s <= to), from, to }
}

function panel(title: string, d: Distribution, top: number): string[] {
  const { ticks, from, to } = logTicks(d.series.flatMap((s) => s.values))
  const plotTop = top + PLOT_TOP
  const y = (v: number): number =>
    plotTop + PLOT_H - (Math.log(Math.max(from, v) / from) / Math.log(to / from || 10)) * PLOT_H
  const x = (i: number): number => PLOT_X + (i / (PERCENTILES.length - 1)) * PLOT_W
  const parts = [
    text(PAD, top + 18, clip(title, 120), { ...paint('fg', 12), 'font-weight': 'bold' }),
    text(PAD, top + 32, `${d.label}, ${d.unit}, log scale; medians over runs`, paint('muted', 10.5)),
  ]
  for (const t of ticks) {
    parts.push(
      line(PLOT_X, y(t), PLOT_X + PLOT_W, y(t), stroke('grid', 1)),
      text(PLOT_X - 8, y(t) + 4, formatNumber(t, d.unit), { ...paint('muted', 10.5), 'text-anchor': 'end' }),
    )
  }
  PERCENTILES.forEach((q, i) =>
    parts.push(
      text(x(i), plotTop + PLOT_H + 16, `p${q}`, { ...paint('muted', 10.5), 'text-anchor': 'middle' }),
    ),
  )
  d.series.forEach((series, k) => {
    const colour = seriesColour[k] ?? 'fg'
    const points = series.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    parts.push(
      element('polyline', {
        points,
        ...stroke(colour, 2),
        ...(k === 0 ? {} : { 'stroke-dasharray': '5 3' }),
        'data-series': series.name,
      }),
      ...series.values.map((v, i) => element('circle', { cx: x(i), cy: y(v), r: 3.5, ...paint(colour) })),
    )
  })
  // The numbers: one line per percentile, zstate, baseline and their ratio.
  const [mine, base] = d.series
  const rowY = (i: number): number => plotTop + 14 + i * 18
  parts.push(
    text(TABLE_X, plotTop - 4, 'percentile', paint('muted', 10.5)),
    text(TABLE_X + 130, plotTop - 4, mine?.name ?? '', { ...paint('accent', 10.5), 'text-anchor': 'end' }),
    text(TABLE_X + 210, plotTop - 4, 'baseline', { ...paint('muted', 10.5), 'text-anchor': 'end' }),
    text(TABLE_X + 280, plotTop - 4, 'ratio', { ...paint('muted', 10.5), 'text-anchor': 'end' }),
  )
  PERCENTILES.forEach((q, i) => {
    const a = mine?.values[i]
    const b = base?.values[i]
    const cells = [
      text(TABLE_X, rowY(i), `p${q}`, paint('fg', 11)),
      text(TABLE_X + 130, rowY(i), a === undefined ? '—' : formatNumber(a, d.unit), {
        ...paint('fg', 11),
        'text-anchor': 'end',
      }),
      text(TABLE_X + 210, rowY(i), b === undefined ? '—' : formatNumber(b, d.unit), {
        ...paint('fg', 11),
        'text-anchor': 'end',
      }),
      text(TABLE_X + 280, rowY(i), a === undefined || !b ? '—' : `${(a / b).toFixed(2)}×`, {
        ...paint('fg', 11),
        'text-anchor': 'end',
      }),
    ]
    parts.push(...cells)
  })
  parts.push(
    line(
      TABLE_X,
      rowY(PERCENTILES.length) - 4,
      TABLE_X + 24,
      rowY(PERCENTILES.length) - 4,
      stroke('accent', 2),
    ),
    text(TABLE_X + 30, rowY(PERCENTILES.length), clip(mine?.name ?? '', 40), paint('fg', 10.5)),
    line(TABLE_X, rowY(PERCENTILES.length + 1) - 4, TABLE_X + 24, rowY(PERCENTILES.length + 1) - 4, {
      ...stroke('muted', 2),
      'stroke-dasharray': '5 3',
    }),
    text(TABLE_X + 30, rowY(PERCENTILES.length + 1), clip(base?.name ?? '', 40), paint('fg', 10.5)),
  )
  return parts
}

export function renderLatencyChart(results: readonly ScenarioResult[]): string {
  const panels = results.flatMap((r) => (r.distributions ?? []).map((d) => ({ title: r.title, d })))
  const summary = 'zstate latency percentiles against the raw floor'
  const e = results[0]?.environment
  const where =
    e === undefined ? 'no results' : `${e.date.slice(0, 10)} · Node ${e.node} · ${e.cpu}, ${e.cores} cores`
  const body = [
    text(PAD, 30, summary, { ...paint('fg', 16), 'font-weight': 'bold' }),
    text(PAD, 50, where, paint('muted', 11)),
  ]
  panels.forEach(({ title, d }, i) => body.push(...panel(title, d, HEADER_H + i * PANEL_H)))
  if (panels.length === 0)
    body.push(text(PAD, HEADER_H + 16, 'No latency distribution in these results.', paint('muted')))
  const height = HEADER_H + Math.max(1, panels.length) * PANEL_H
  return svgDocument(height, summary, body)
}
