import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The built package, as users run it. Process benchmarks measure children that start from dist/ as
// plain JavaScript: a zstate loaded from source would start every child through tsx, which costs
// more than the child itself.
export type Zstate = typeof import('../../lib/index.ts')

export async function builtZstate(): Promise<Zstate> {
  const entry = new URL('../../dist/lib/index.js', import.meta.url)
  if (!existsSync(fileURLToPath(entry))) throw new Error('dist/ is missing: run "npm run build" first')
  return (await import(entry.href)) as Zstate
}
