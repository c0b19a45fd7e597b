import type { Environment } from './env.ts'
import { formatNumber, formatRatio, formatSpread, formatTarget } from './format.ts'
import { goalMet, tallyGoals, type Comparison, type ScenarioResult } from './report.ts'
import {
  PAD,
  WIDTH,
  clip,
  element,
  escapeXml,
  glyph,
  line,
  paint,
  palette,
  rect,
  stroke,
  svgDocument,
  text,
  tint,
  type Status,
} from './svg.ts'

// Renders docs/benchmarks.svg: every comparison with a goal, one row each, so that a missed goal and its
// cause stand out at a glance; run-all.ts writes it with docs/benchmarks.md from the same results.
// Hand-written SVG (svg.ts): a few rects, lines and texts need no library.

const PLOT_X = 336 // left of it: the labels
const PLOT_W = 400 // right of it: the numbers, as in the table
const VALUE_X = PLOT_X + PLOT_W + 16
const ROW_H = 32
const LINE_H = 14
const AXIS_TOP = 150

// Words into lines of at most `max` characters (a longer word gets a line of its own).
function wrap(value: string, max: number): string[] {
  const lines: string[] = []
  for (const word of value.split(' ')) {
    const last = lines.at(-1)
    if (last !== undefined && last.length + 1 + word.length <= max)
      lines[lines.length - 1] = `${last} ${word}`
    else lines.push(word)
  }
  return lines
}

interface Placed {
  median: number
  low: number
  high: number
  goal: number
}

// Right is better on every row: a ≥ goal's ratio as measured, a ≤ goal's inverted (baseline ÷ zstate).
function normalised(c: Comparison): Placed | undefined {
  const { goal, ratio: r } = c
  if (goal === undefined || 'value' in goal || r === undefined) return undefined
  if (goal.op === '≥') return { median: r.median, low: r.min, high: r.max, goal: goal.ratio }
  return { median: 1 / r.median, low: 1 / r.max, high: 1 / r.min, goal: 1 / goal.ratio }
}

interface Axis {
  ticks: number[]
  x: (value: number) => number
}

// A log axis over 1-2-5 steps that holds every value, the goals and 1× (only powers of ten past 3 decades).
function logAxis(values: readonly number[]): Axis {
  const steps = [-4, -3, -2, -1, 0, 1, 2, 3].flatMap((k) =>
    [1, 2, 5].map((m) => Number((m * 10 ** k).toPrecision(1))),
  )
  const usable = values.filter((v) => Number.isFinite(v) && v > 0)
  const from = steps.findLast((s) => s <= Math.min(1, ...usable) / 1.15) ?? steps[0]!
  const to = steps.find((s) => s >= Math.max(1, ...usable) * 1.15) ?? steps.at(-1)!
  const wide = Math.log10(to / from) > 3
  const ticks = steps.filter((s) => s >= from && s <= to && (!wide || String(s).replace(/[0.]/g, '') === '1'))
  const x = (value: number): number => {
    const v = Number.isNaN(value) || value <= 0 ? from : Math.min(to, Math.max(from, value))
    return PLOT_X + (Math.log(v / from) / Math.log(to / from)) * PLOT_W
  }
  return { ticks, x }
}

function statusOf(c: Comparison): Status {
  const met = goalMet(c)
  return met === undefined ? 'unknown' : met ? 'pass' : 'fail'
}

// The middle of a row: the whisker and dot against the goal, or what stands in for them.
function marks(c: Comparison, status: Status, top: number, x: Axis['x']): string[] {
  const mid = top + ROW_H / 2 - 2
  const placed = normalised(c)
  if (c.goal !== undefined && 'value' in c.goal) {
    // A goal on zstate's own number (0 lost changes) has no ratio to place: a marker and the value.
    const [word, worst] = c.goal.op === '≤' ? ['highest', c.zstate.max] : ['lowest', c.zstate.min]
    return [
      element('circle', { cx: PLOT_X + 9, cy: mid, r: 8, fill: 'currentColor' }),
      text(PLOT_X + 9, mid + 4, glyph[status], { ...paint('bg', 11), 'text-anchor': 'middle' }),
      text(
        PLOT_X + 24,
        mid + 4,
        `must hold in every run: ${word} ${formatNumber(worst, c.unit)}`,
        paint('fg', 11),
      ),
      text(VALUE_X, top + 12, formatSpread(c.zstate, c.unit), paint('fg', 11)),
    ]
  }
  if (placed === undefined)
    return [
      text(PLOT_X + 4, mid + 4, 'no ratio: the baseline was skipped or measured 0', paint('muted', 11)),
      text(VALUE_X, top + 12, '—', paint('fg', 12)),
    ]
  const [low, high, at] = [x(placed.low), x(placed.high), x(placed.goal)]
  return [
    rect(at, top + 1, PLOT_X + PLOT_W - at, ROW_H - 6, { ...paint('band'), 'fill-opacity': 0.1 }),
    line(at, top, at, top + ROW_H - 4, { ...stroke('fg', 2), 'stroke-dasharray': '3 2', 'data-goal': '' }),
    element('path', {
      d: `M${low} ${mid - 5}v10M${low} ${mid}H${high}M${high} ${mid - 5}v10`,
      ...stroke('currentColor', 2),
    }),
    element('circle', {
      cx: x(placed.median),
      cy: mid,
      r: 5.5,
      ...stroke('bg', 1.5),
      fill: 'currentColor',
      'data-median': '',
    }),
    text(VALUE_X, top + 12, formatRatio(c.ratio), paint('fg', 12)),
  ]
}

// One row: labels on the left, the ratio against the goal in the middle, the table's numbers on the
// right, and under a ✗ its cause.
function row(title: string, c: Comparison, top: number, x: Axis['x']): { svg: string; height: number } {
  const status = statusOf(c)
  const target = formatTarget(c.goal!, c.unit)
  const verdict = status === 'unknown' ? `${target}, not measured` : `${target} ${glyph[status]}`
  const cause = status === 'fail' && c.cause !== undefined ? wrap(`cause: ${c.cause}`, 145) : []
  const tooltip = [
    title,
    `${c.label} vs ${c.baselineName}`,
    c.goal !== undefined && 'value' in c.goal
      ? `zstate ${formatSpread(c.zstate, c.unit)} · goal ${verdict} in every run`
      : `ratio ${formatRatio(c.ratio)} · goal ${verdict}`,
    ...(cause.length > 0 ? [`cause: ${c.cause}`] : []),
  ]
  const label = `${element('tspan', { 'font-weight': 'bold' }, glyph[status])} ${element('tspan', paint('fg'), escapeXml(clip(c.label, 42)))}`
  const parts = [
    element('title', {}, escapeXml(tooltip.join('\n'))),
    element('text', { x: PAD, y: top + 12, 'font-size': 12, fill: 'currentColor' }, label),
    text(PAD + 12, top + 25, clip(`vs ${c.baselineName}`, 50), paint('muted', 10.5)),
    ...marks(c, status, top, x),
    text(VALUE_X, top + 25, `goal ${verdict}`, { fill: 'currentColor', 'font-size': 11 }),
  ]
  const height = ROW_H + (cause.length > 0 ? cause.length * LINE_H + 4 : 0)
  if (cause.length > 0)
    parts.push(rect(PAD, top + ROW_H - 5, WIDTH - 2 * PAD, height - ROW_H + 1, paint('bg')))
  cause.forEach((words, i) =>
    parts.push(
      text(PAD + 12, top + ROW_H + 6 + i * LINE_H, words, { fill: 'currentColor', 'font-size': 11 }),
    ),
  )
  return { svg: element('g', { class: `row ${status}`, color: palette[status][0] }, parts.join('')), height }
}

const direction = [
  'Right is better on every row: a ≥ goal (throughput) plots the ratio zstate ÷ baseline as measured; a ≤ goal',
  '(latency, time, memory) plots its inverse, baseline ÷ zstate. The numbers on the right are those of the table.',
]

// The summary, where and how the numbers were measured, and the legend.
function header(summary: string, e: Environment | undefined): string[] {
  const y = 84
  const runs = e === undefined ? '' : `${e.runs} ${e.runs === 1 ? 'run' : 'runs'} per median`
  const scale = e === undefined || e.scale === 1 ? '' : ` · BENCH_SCALE=${e.scale} (smoke run)`
  const where =
    e === undefined ? 'no results' : `${e.date.slice(0, 10)} · Node ${e.node} · ${e.cpu}, ${e.cores} cores`
  return [
    text(PAD, 30, summary, { ...paint('fg', 16), 'font-weight': 'bold' }),
    text(PAD, 50, e === undefined ? where : `${where} · ${runs}${scale}`, paint('muted', 11)),
    element('circle', { cx: PAD + 6, cy: y - 4, r: 5, ...paint('fg') }),
    text(PAD + 16, y, 'median ratio', paint('fg')),
    element('path', {
      d: `M${PAD + 100} ${y - 9}v10M${PAD + 100} ${y - 4}h30M${PAD + 130} ${y - 9}v10`,
      ...stroke('fg', 2),
    }),
    text(PAD + 136, y, 'range over runs', paint('fg')),
    line(PAD + 246, y - 12, PAD + 246, y + 3, { ...stroke('fg', 2), 'stroke-dasharray': '3 2' }),
    rect(PAD + 247, y - 12, 20, 15, { ...paint('band'), 'fill-opacity': 0.1 }),
    text(PAD + 272, y, 'goal, and the side where it is met', paint('fg')),
    text(PAD + 492, y, `${glyph.pass} met`, { ...tint('pass'), 'font-weight': 'bold' }),
    text(PAD + 542, y, `${glyph.fail} missed (with its cause, when measured)`, {
      ...tint('fail'),
      'font-weight': 'bold',
    }),
    ...direction.map((words, i) => text(PAD, y + 20 + i * 16, words, paint('muted'))),
  ]
}

// Grid lines (1× stronger) from the top of the rows to `bottom`, labelled above and below.
function axisLines({ ticks, x }: Axis, bottom: number): string[] {
  const label = (t: number, y: number): string =>
    text(x(t), y, `${t}×`, { ...paint('muted', 10.5), 'text-anchor': 'middle' })
  return [
    ...ticks.map((t) =>
      line(x(t), AXIS_TOP, x(t), bottom, t === 1 ? stroke('muted', 1.5) : stroke('grid', 1)),
    ),
    ...ticks.flatMap((t) => [label(t, AXIS_TOP - 6), label(t, bottom + 14)]),
    text(PLOT_X, bottom + 32, '← worse', paint('muted', 11)),
    text(PLOT_X + PLOT_W / 2, bottom + 32, 'relative to the baseline, log scale', {
      ...paint('muted', 11),
      'text-anchor': 'middle',
    }),
    text(PLOT_X + PLOT_W, bottom + 32, 'better →', { ...paint('muted', 11), 'text-anchor': 'end' }),
  ]
}

export function renderChart(results: readonly ScenarioResult[], failed: readonly string[]): string {
  const groups = results
    .map((r) => ({ title: r.title, rows: r.comparisons.filter((c) => c.goal !== undefined) }))
    .filter((g) => g.rows.length > 0)
  const placed = groups.flatMap((g) => g.rows.map(normalised))
  const axis = logAxis(placed.flatMap((p) => (p === undefined ? [] : [p.low, p.high, p.goal])))
  const body: string[] = []
  let y = AXIS_TOP + 10
  for (const group of groups) {
    body.push(
      rect(0, y, WIDTH, 22, paint('bg')),
      text(PAD, y + 15, clip(group.title, 130), { ...paint('fg', 12), 'font-weight': 'bold' }),
    )
    y += 24
    for (const c of group.rows) {
      const r = row(group.title, c, y, axis.x)
      body.push(r.svg)
      y += r.height
    }
  }
  if (groups.length === 0) {
    body.push(text(PAD, y + 16, 'No comparison with a goal in these results.', paint('muted')))
    y += 24
  }
  const bottom = y + 4
  let height = bottom + 44
  if (failed.length > 0) {
    const note = `Failed to run, not shown: ${failed.join(', ')}`
    body.push(text(PAD, height, note, { ...tint('fail'), 'font-size': 11 }))
    height += 18
  }
  const tally = tallyGoals(results)
  const unmeasured = tally.unmeasured > 0 ? ` (${tally.unmeasured} not measured)` : ''
  const summary = `zstate against its baselines: ${tally.met} of ${tally.met + tally.missed + tally.unmeasured} goals met${unmeasured}`
  return svgDocument(height, summary, [
    ...header(summary, results[0]?.environment),
    ...axisLines(axis, bottom),
    ...body,
  ])
}
