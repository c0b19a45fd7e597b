import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import process from 'node:process'
import { scale } from './support/config.ts'
import { renderChart } from './support/chart.ts'
import { renderLatencyChart } from './support/latency-chart.ts'
import { renderMarkdown } from './support/markdown.ts'
import type { ScenarioResult } from './support/report.ts'

// Runs the scenarios named (all by default), each in a fresh Node process of its own (so no scenario
// inherits another's heap or JIT state), and regenerates docs/benchmarks.md, docs/benchmarks.svg and
// docs/benchmarks-latency.svg from every scenario's latest full-scale result.
//
// A full-scale result is kept in benchmarks/results/<id>.json, which the repository holds: the page is
// rendered from them, so rerunning one scenario updates its rows and leaves the others as they were
// measured (each scenario's section names its own run). A smoke run (BENCH_SCALE ≠ 1) keeps its
// results in .bench-tmp/results/ and renders into .bench-tmp/, so it never touches the published
// numbers. A scenario's old result is removed before it runs: one without a result failed its last
// run. `--render-only` renders without running anything; the page goes to docs/ only when every
// scenario has a full-scale result, into .bench-tmp/ otherwise.

const scenarios = [
  'set-sequential',
  'frame-parts',
  'atomic-ops-sequential',
  'set-in-flight',
  'get',
  'watch-latency',
  'fan-out',
  'store-size',
  'memory',
  'transactions-shared-key',
  'increments-zproc-shape',
  'transactions-disjoint-keys',
  'messaging-call-sequential',
  'messaging-call-in-flight',
  'messaging-publish-latency',
  'process-map',
  'process-spawn',
  'durability',
  'curve',
  'hostile-frames',
  'etcd-gateways',
  'etcd-scale',
]

const root = new URL('../', import.meta.url)
const tmp = new URL('.bench-tmp/', root)
const tsxLoader = import.meta.resolve('tsx')
const published = new URL('benchmarks/', root)
const resultPath = (id: string): string =>
  fileURLToPath(new URL(`results/${id}.json`, scale === 1 ? published : tmp))

// Runs one scenario, which writes its result to resultPath(id); whether it finished.
async function runOne(id: string): Promise<boolean> {
  const out = resultPath(id)
  await rm(out, { force: true })
  const child = spawn(
    process.execPath,
    ['--import', tsxLoader, fileURLToPath(new URL(`${id}.ts`, import.meta.url))],
    {
      stdio: 'inherit',
      env: { ...process.env, BENCH_RESULTS: out },
    },
  )
  const [code] = (await once(child, 'exit')) as [number | null]
  return code === 0
}

// The result a scenario's last run left, if it left one.
async function stored(id: string): Promise<ScenarioResult | undefined> {
  try {
    return JSON.parse(await readFile(resultPath(id), 'utf8')) as ScenarioResult
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

const args = process.argv.slice(2)
const renderOnly = args.includes('--render-only')
const only = args.filter((a) => a !== '--render-only')
const unknown = only.filter((a) => !scenarios.includes(a))
if (unknown.length > 0) {
  console.error(
    `run-all: expected --render-only or scenario names (${scenarios.join(', ')}), got ${unknown.join(', ')}`,
  )
  process.exit(2)
}

const failed: string[] = []
if (!renderOnly)
  for (const id of scenarios.filter((s) => only.length === 0 || only.includes(s))) {
    console.log(`\n=== ${id} ===`)
    if (!(await runOne(id))) failed.push(id)
  }

// The page: every scenario's latest result of this scale (full-scale ones are all that
// benchmarks/results holds), those named above just measured.
const results: ScenarioResult[] = []
const missing: string[] = []
for (const id of scenarios) {
  const result = await stored(id)
  if (result === undefined) missing.push(id)
  else results.push(result)
}
const complete = missing.length === 0 && scale === 1
const dir = complete ? new URL('docs/', root) : tmp
await mkdir(dir, { recursive: true })
await writeFile(new URL('benchmarks.md', dir), renderMarkdown(results, missing))
await writeFile(new URL('benchmarks.svg', dir), renderChart(results, missing))
await writeFile(new URL('benchmarks-latency.svg', dir), renderLatencyChart(results))
console.log(
  `\nwrote ${fileURLToPath(dir)}benchmarks.{md,svg} and benchmarks-latency.svg` +
    (failed.length > 0 ? `; failed: ${failed.join(', ')}` : '') +
    (missing.length > failed.length ? `; no result: ${missing.join(', ')}` : ''),
)
if (failed.length > 0) process.exitCode = 1
