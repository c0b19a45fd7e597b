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

// Runs every scenario in a fresh Node process of its own (so no scenario inherits another's heap or JIT
// state), collects their results and regenerates docs/benchmarks.md, docs/benchmarks.svg and
// docs/benchmarks-latency.svg. A smoke run (BENCH_SCALE ≠ 1) or a run of some scenarios writes them into
// .bench-tmp/ instead, so it never overwrites the published numbers.
//
// Each scenario's result stays in .bench-tmp/results/<id>.json until that scenario runs again (its old
// result is removed first, so a scenario without one failed its last run or never ran). `--render-only`
// renders from those without running anything: into docs/ only when every scenario has a full-scale
// result, into .bench-tmp/ otherwise.

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
const resultPath = (id: string): string => fileURLToPath(new URL(`results/${id}.json`, tmp))

async function runOne(id: string): Promise<ScenarioResult | undefined> {
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
  if (code !== 0) return undefined
  return stored(id)
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

const results: ScenarioResult[] = []
const failed: string[] = []
for (const id of scenarios.filter((s) => only.length === 0 || only.includes(s))) {
  if (!renderOnly) console.log(`\n=== ${id} ===`)
  const result = await (renderOnly ? stored(id) : runOne(id))
  if (result === undefined) failed.push(id)
  else results.push(result)
}

const published =
  only.length === 0 &&
  (renderOnly ? failed.length === 0 && results.every((r) => r.environment.scale === 1) : scale === 1)
const dir = published ? new URL('docs/', root) : tmp
await mkdir(dir, { recursive: true })
await writeFile(new URL('benchmarks.md', dir), renderMarkdown(results, failed))
await writeFile(new URL('benchmarks.svg', dir), renderChart(results, failed))
await writeFile(new URL('benchmarks-latency.svg', dir), renderLatencyChart(results))
const what = renderOnly ? 'no stored result' : 'failed'
console.log(
  `\nwrote ${fileURLToPath(dir)}benchmarks.{md,svg} and benchmarks-latency.svg` +
    (failed.length > 0 ? `; ${what}: ${failed.join(', ')}` : ''),
)
if (failed.length > 0 && !renderOnly) process.exitCode = 1
