import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { describeEnvironment, environment } from './env.ts'
import { formatGoal, formatRatio, formatSpread } from './format.ts'
import type { ScenarioResult } from './report.ts'

// Every scenario file ends with runScenario(import.meta.url, fn): run directly, it prints its results,
// and writes them as JSON to BENCH_RESULTS when run-all asked for that.

export type Scenario = () => Promise<Omit<ScenarioResult, 'environment'>>

export function runScenario(moduleUrl: string, scenario: Scenario): void {
  const entry = process.argv[1]
  if (entry === undefined || pathToFileURL(entry).href !== moduleUrl) return
  void (async () => {
    const env = environment()
    console.log(describeEnvironment(env))
    const result: ScenarioResult = { ...(await scenario()), environment: env }
    print(result)
    const out = process.env['BENCH_RESULTS']
    if (out !== undefined && out !== '') {
      await mkdir(dirname(out), { recursive: true })
      await writeFile(out, JSON.stringify(result, null, 2))
    }
    // Everything should be closed by now; if a handle leaked, say so rather than hang run-all.
    setTimeout(() => {
      console.error(`${result.id}: handles left open after the scenario finished; exiting`)
      process.exit(process.exitCode ?? 0)
    }, 5_000).unref()
  })().catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}

function print(result: ScenarioResult): void {
  console.log(`\n${result.title}`)
  for (const c of result.comparisons) {
    console.log(`  ${c.label}`)
    console.log(`    zstate    ${formatSpread(c.zstate, c.unit)}`)
    console.log(`    baseline  ${formatSpread(c.baseline, c.unit)}  [${c.baselineName}]`)
    console.log(`    ratio     ${formatRatio(c.ratio)}   goal ${formatGoal(c)}`)
  }
  for (const note of result.notes) console.log(`  · ${note}`)
}
