// Where the child entry points are and which Node flags children inherit: the built `.js` files
// when zstate runs from dist/, the `.ts` sources (through tsx) when it runs from source.
import { readFileSync } from 'node:fs'
import { isMainThread, threadId } from 'node:worker_threads'
import { fromSource, libEntry, libFile } from '../package-files.ts'
import type { Target } from './target.ts'

export function entryUrl(name: 'bootstrap' | 'thread-entry' | 'server-main' | 'watchdog-main'): URL {
  // A child process's bootstrap (CommonJS) runs child-main through V8's code cache once built; from
  // source, child-main is the entry itself.
  if (name === 'bootstrap')
    return fromSource ? libEntry('process/child-main') : libFile('process/bootstrap.cjs')
  return libEntry(`process/${name}`)
}

// Flags that make no sense twice (debugger ports, the test runner, watch mode, -e/-p code and the
// --input-type that only such code takes: a file entry with it fails to start).
const DROP = /^--(inspect|debug|test|watch|experimental-test|eval|print|interactive|check|input-type)/
const DROP_SHORT = new Set(['-e', '-p', '-i', '-c'])
const TAKES_VALUE = new Set([
  '-e',
  '--eval',
  '--input-type',
  '-p',
  '--print',
  '--test-reporter',
  '--test-reporter-destination',
  '--test-name-pattern',
  '--test-skip-pattern',
  '--test-timeout',
  '--test-concurrency',
  '--test-shard',
  '--watch-path',
  '--inspect-port',
  '--debug-port',
])

let cachedExecArgv: string[] | undefined

// A child process started from dist/ resolves `import 'zstate'` to child-main.cjs, the copy of zstate
// its bootstrap already runs (lib/process/child-main.ts). From source its entry is TypeScript instead.
const CHILD_CONDITION = '--conditions=zstate-child'

// The flags a child process's bootstrap is forked with.
export function bootstrapExecArgv(flags: readonly string[]): string[] {
  return fromSource ? [...flags] : [...flags, CHILD_CONDITION]
}

// The parent's Node flags minus the ones above, or the ones given; tsx added when zstate itself runs
// from source (its bootstrap is TypeScript then).
export function childExecArgv(given?: readonly string[]): string[] {
  if (given !== undefined)
    return fromSource && !given.some(isTsx) ? [...given, '--import', import.meta.resolve('tsx')] : [...given]
  if (cachedExecArgv !== undefined) return cachedExecArgv
  const kept: string[] = []
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    // A child's own condition is not for the servers and watchdogs it starts in turn.
    if (arg === CHILD_CONDITION) continue
    if (DROP.test(arg) || DROP_SHORT.has(arg)) {
      if (TAKES_VALUE.has(arg)) i++
      continue
    }
    kept.push(arg)
  }
  if (fromSource && !tsxActive()) kept.push('--import', import.meta.resolve('tsx'))
  cachedExecArgv = kept
  return kept
}

// Whether TypeScript modules load here (the parent runs under tsx): children must then load it too.
export function tsxActive(): boolean {
  return process.execArgv.some(isTsx)
}

function isTsx(arg: string): boolean {
  return /(^|[\\/@:])tsx\b/.test(arg)
}

// tsx's modules whose register() a worker thread calls (hooks from --import do not reach threads on
// Node 20), when it needs TypeScript: zstate runs from source, or the target is a TypeScript module.
// Both loaders: a `.ts` file in a package of "type": "commonjs" (npm init's) is CommonJS, which the
// ES module hooks alone leave to require() (ERR_REQUIRE_CYCLE_MODULE). (A function's source was
// compiled in the parent already.)
export function tsxRegisterUrls(target: Target): string[] | undefined {
  const typescript = target.kind === 'module' && /\.[mc]?tsx?$/.test(new URL(target.url).pathname)
  if (!fromSource && !(typescript && tsxActive())) return undefined
  try {
    return [esmEntry('tsx', './esm/api'), esmEntry('tsx', './cjs/api')]
  } catch {
    return undefined
  }
}

// The file a package's export `subpath` gives an ES module's import, which the thread imports. Read
// from its package.json: in zstate's CommonJS copy (child-main.cjs, what require('zstate') loads)
// import.meta.resolve is require.resolve, which picks the file for require() (tsx's CommonJS
// esm/api fails to load by import()).
function esmEntry(name: string, subpath: string): string {
  const manifest = import.meta.resolve(`${name}/package.json`)
  const { exports } = JSON.parse(readFileSync(new URL(manifest), 'utf8')) as {
    exports?: Record<string, { import?: string | { default?: string } } | undefined>
  }
  const target = exports?.[subpath]?.import
  const file = typeof target === 'string' ? target : target?.default
  return file === undefined
    ? import.meta.resolve(`${name}/${subpath.slice(2)}`)
    : new URL(file, manifest).href
}

// The thread that owns a context: null for a process's main thread.
export function currentThreadId(): number | null {
  return isMainThread ? null : threadId
}
