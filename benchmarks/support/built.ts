import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The built package, as users run it: every benchmark measures zstate from dist/ as plain JavaScript,
// in its own process and in the side processes it forks. From source, through tsx, zstate was slower
// than users get it: tsx's transform keeps function names, so every closure zstate makes per
// operation is renamed as it is made (measured apart: an awaited set 122–142 µs from source against
// 109–114 µs from dist), and a child started from source would compile zstate first.
export type Zstate = typeof import('../../lib/index.ts')

const entry = new URL('../../dist/lib/index.js', import.meta.url)
if (!existsSync(fileURLToPath(entry))) throw new Error('dist/ is missing: run "npm run build" first')

export const zstatePackage = (await import(entry.href)) as Zstate
