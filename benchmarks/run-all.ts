import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import process from 'node:process'
import { scale } from './support/config.ts'
import { renderMarkdown } from './support/markdown.ts'
import type { ScenarioResult } from './support/report.ts'

// Runs every scenario in a fresh Node process of its own (so no scenario inherits another's heap or JIT
// state), collects their results and regenerates docs/benchmarks.md. A smoke run (BENCH_SCALE ≠ 1)
// writes .bench-tmp/benchmarks.md instead, so it never overwrites the published numbers.

const scenarios = [
  'set-sequential',
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
  'hostile-frames',
]

const root = new URL('../', import.meta.url)
const tmp = new URL('.bench-tmp/', root)
const tsxLoader = import.meta.resolve('tsx')

async function runOne(id: string): Promise<ScenarioResult | undefined> {
  const out = fileURLToPath(new URL(`results/${id}.json`, tmp))
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
  return JSON.parse(await readFile(out, 'utf8')) as ScenarioResult
}

const only = process.argv.slice(2)
const results: ScenarioResult[] = []
const failed: string[] = []
for (const id of scenarios.filter((s) => only.length === 0 || only.includes(s))) {
  console.log(`\n=== ${id} ===`)
  const result = await runOne(id)
  if (result === undefined) failed.push(id)
  else results.push(result)
}

const target =
  scale === 1 && only.length === 0 ? new URL('docs/benchmarks.md', root) : new URL('benchmarks.md', tmp)
await mkdir(new URL('.', target), { recursive: true })
await writeFile(target, renderMarkdown(results, failed))
console.log(`\nwrote ${fileURLToPath(target)}${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}`)
if (failed.length > 0) process.exitCode = 1
