import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderChart } from '../benchmarks/support/chart.ts'
import { formatGoal } from '../benchmarks/support/format.ts'
import { renderMarkdown } from '../benchmarks/support/markdown.ts'
import { renderLatencyChart } from '../benchmarks/support/latency-chart.ts'
import { compare, PERCENTILES, Unit, type ScenarioResult } from '../benchmarks/support/report.ts'

// docs/benchmarks.svg as `npm run bench` writes it, from a handful of comparisons made here: one row per
// goal, ✗ rows in the fail colour with their cause, better always to the right, well-formed XML.

const environment = {
  date: '2026-01-01T00:00:00.000Z',
  node: 'v20.0.0',
  os: 'linux',
  cpu: 'test cpu',
  cores: 2,
  memoryGiB: 4,
  zeromq: 'zeromq.js',
  redis: undefined,
  scale: 1,
  runs: 3,
}

const results: ScenarioResult[] = [
  {
    id: 'first',
    title: '(a) <throughput> & "latency"',
    notes: [],
    environment,
    comparisons: [
      compare('throughput', Unit.opsPerSec, [90, 100, 110], 'raw', [100, 100, 100], { op: '≥', ratio: 0.9 }),
      compare('p50 latency', Unit.us, [300, 310, 320], 'raw <relay>', [200, 200, 200], {
        op: '≤',
        ratio: 1.2,
        cause: 'three messages <per> set\n  & one more',
      }),
      compare('p99 latency', Unit.us, [900, 910, 920], 'raw', [500, 500, 500]), // no goal: no row
    ],
  },
  {
    id: 'second',
    title: 'second scenario',
    notes: [],
    environment,
    comparisons: [
      compare('lost changes', Unit.count, [0, 2, 0], 'raw', [0, 0, 0], {
        op: '≤',
        value: 0,
        cause: 'a watcher fell behind',
      }),
      compare('rate', Unit.opsPerSec, [200, 200, 200], 'Redis', [], { op: '≥', ratio: 1 }), // skipped
      compare('speed-up', Unit.opsPerSec, [300, 300, 300], 'one worker', [100, 100, 100], {
        op: '≥',
        ratio: 1.5,
        cause: 'never shown: this goal is met',
      }),
      compare('slow', Unit.opsPerSec, [50, 50, 50], 'fast', [100, 100, 100], { op: '≥', ratio: 0.8 }),
    ],
  },
]

// Well-formed enough for any XML parser: tags balance under one root, attribute values are quoted and
// hold no `<`, and `&` only starts one of the entities the renderer writes.
function assertWellFormed(xml: string): void {
  const stack: string[] = []
  const entity = /&(?!(?:amp|lt|gt|quot|#39);)/
  let roots = 0
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g
  for (const [whole, close, name, attributes, selfClosing, text, stray] of xml.matchAll(token)) {
    assert.equal(stray, undefined, `a < that starts no tag: ${xml.slice(xml.indexOf(whole), 80)}`)
    if (text !== undefined) {
      assert.doesNotMatch(text, entity, `unescaped & in ${JSON.stringify(text)}`)
      if (stack.length === 0) assert.match(text, /^\s*$/, 'text outside the root element')
      continue
    }
    assert.doesNotMatch(attributes ?? '', entity, `unescaped & in <${name}${attributes}>`)
    if (close === '/') assert.equal(stack.pop(), name, `</${name}> closes another element`)
    else {
      if (stack.length === 0) roots++
      if (selfClosing !== '/') stack.push(name!)
    }
  }
  assert.deepEqual(stack, [], 'elements left open')
  assert.equal(roots, 1)
}

interface Row {
  status: string
  colour: string
  title: string
  body: string
}

function rows(svg: string): Row[] {
  return [
    ...svg.matchAll(/<g class="row (\w+)" color="([^"]+)"><title>([^<]*)<\/title>([\s\S]*?)<\/g>/g),
  ].map(([, status, colour, title, body]) => ({
    status: status!,
    colour: colour!,
    title: title!,
    body: body!,
  }))
}

const svg = renderChart(results, ['memory'])

void test('bench chart: the SVG is well-formed XML with an explicit background', () => {
  assert.match(
    svg,
    /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/,
  )
  assertWellFormed(svg)
  assert.match(svg, /<rect x="0" y="0" width="\d+" height="\d+" rx="6" class="bg" fill="#ffffff"\/>/)
  assert.match(svg, /@media \(prefers-color-scheme: dark\)\{[^}]*\.bg\{fill:#0d1117\}/)
})

void test('bench chart: one row per comparison with a goal, in order, coloured by its verdict', () => {
  const found = rows(svg)
  assert.deepEqual(
    found.map((r) => r.status),
    ['pass', 'fail', 'fail', 'unknown', 'pass', 'fail'],
  )
  const colours = (status: string): Set<string> =>
    new Set(found.filter((r) => r.status === status).map((r) => r.colour))
  assert.equal(colours('fail').size, 1)
  assert.equal(colours('pass').size, 1)
  assert.notDeepEqual(colours('fail'), colours('pass'))
  assert.match(svg, /<title>zstate against its baselines: 2 of 6 goals met \(1 not measured\)<\/title>/)
  assert.match(svg, /Failed to run, not shown: memory/)
})

void test('bench chart: a ✗ row carries its cause as tooltip and text; a ✓ row never does', () => {
  const [throughput, latency, lost, , speedUp, slow] = rows(svg)
  assert.match(latency!.title, /\ncause: three messages &lt;per&gt; set &amp; one more$/)
  assert.match(latency!.body, />cause: three messages &lt;per&gt; set &amp; one more</)
  assert.match(lost!.title, /\ncause: a watcher fell behind$/)
  assert.match(lost!.body, /must hold in every run: highest 2/)
  for (const row of [throughput!, speedUp!, slow!]) assert.doesNotMatch(row.title + row.body, /cause/)
  assert.doesNotMatch(svg, /never shown/)
})

void test('bench chart: better is to the right for ≥ and ≤ goals alike', () => {
  let placed = 0
  for (const row of rows(svg)) {
    const dot = /<circle cx="([\d.]+)"[^>]*data-median=""/.exec(row.body)
    const goal = /<line x1="([\d.]+)"[^>]*data-goal=""/.exec(row.body)
    if (dot === null || goal === null) continue
    assert.equal(Number(dot[1]) >= Number(goal[1]), row.status === 'pass', row.title)
    placed++
  }
  assert.equal(placed, 4) // not the value goal, not the skipped baseline
})

void test('bench chart: text is escaped, and an empty chart still says so', () => {
  assert.match(svg, />\(a\) &lt;throughput&gt; &amp; &quot;latency&quot;</)
  assert.match(svg, /vs raw &lt;relay&gt;/)
  assert.doesNotMatch(svg, /<throughput>|<relay>|<per>/)
  const empty = renderChart([], [])
  assertWellFormed(empty)
  assert.equal(rows(empty).length, 0)
  assert.match(empty, /No comparison with a goal in these results\./)
})

void test('bench chart: docs/benchmarks.md embeds the chart and prints the cause after the ✗', () => {
  const [, latency, , , speedUp] = results.flatMap((r) => r.comparisons.filter((c) => c.goal !== undefined))
  assert.equal(formatGoal(latency!), '≤ 1.2× ✗ — cause: three messages <per> set & one more')
  assert.equal(formatGoal(speedUp!), '≥ 1.5× ✓')
  const markdown = renderMarkdown(results, [])
  assert.match(markdown, /^!\[Every goal row: 2 of 6 goals met\]\(benchmarks\.svg\)$/m)
  assert.match(markdown, /\| ≤ 1\.2× ✗ — cause: three messages <per> set & one more \|$/m)
  assert.throws(() => compare('x', Unit.count, [1], 'y', [1], { op: '≤', value: 0, cause: ' \n ' }), /cause/)
})

void test('latency chart: one panel per distribution, the slower series drawn higher, the numbers beside it', () => {
  const distributions: ScenarioResult[] = [
    {
      ...results[0]!,
      title: '(d) watch <latency>',
      distributions: [
        {
          label: 'one-way latency',
          unit: Unit.us,
          series: [
            { name: 'zstate', values: [150, 170, 200, 230, 320, 2900] },
            { name: 'raw relay', values: [120, 130, 150, 160, 220, 400] },
          ],
        },
      ],
    },
    results[1]!,
  ]
  const chart = renderLatencyChart(distributions)
  assertWellFormed(chart)
  assert.match(chart, />\(d\) watch &lt;latency&gt;</)
  const lines = [...chart.matchAll(/<polyline points="([^"]+)"[^>]*data-series="([^"]+)"/g)]
  assert.deepEqual(
    lines.map(([, , name]) => name),
    ['zstate', 'raw relay'],
  )
  const ys = (points: string): number[] => points.split(' ').map((p) => Number(p.split(',')[1]))
  const [mine, raw] = lines.map(([, points]) => ys(points!))
  // SVG's y grows downwards: higher latency, smaller y, at every percentile; and each line rises.
  mine!.forEach((y, i) => assert.ok(y < raw![i]!, `p${PERCENTILES[i]}`))
  for (const series of [mine!, raw!])
    for (let i = 1; i < series.length; i++) assert.ok(series[i]! <= series[i - 1]!)
  assert.match(chart, />p99\.9</)
  assert.match(chart, />2900 µs</)
  assert.match(chart, />7\.25×</)
  const markdown = renderMarkdown(distributions, [])
  assert.match(markdown, /^!\[Latency percentiles[^\]]*\]\(benchmarks-latency\.svg\)$/m)
  assert.doesNotMatch(renderMarkdown(results, []), /benchmarks-latency\.svg/)
  const empty = renderLatencyChart([])
  assertWellFormed(empty)
  assert.match(empty, /No latency distribution in these results\./)
})
