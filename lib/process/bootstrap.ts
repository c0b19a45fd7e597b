// Entry point of every child process zstate spawns, as built (from source, child-main.ts is the entry
// itself). It takes the job (lib/process/child-process.ts) and, when the job needs zstate's client
// (every job but a map whose target never reads its ctx), runs child-main.cjs, the child's one-file
// copy of zstate, with V8's code cache beside it: Node 20 keeps no compiled code between processes,
// and compiling that file was about 3 to 5 ms of every child's start. V8 keeps the file name a cache
// was made with (remote stacks would name that path), so the cache names the file it was made for,
// and a child that finds none made for its own path writes one as it exits (the build does it for
// dist/ with `--make-code-cache`; the package ships none). A cache that V8 refuses (another Node,
// other V8 flags) is written again, and so is one made before any job ran, by the first child that
// ran one.
//
// Built as CommonJS (bootstrap.cjs), like the file it runs, which holds msgpackr too: a child whose
// target is a function never starts Node's ES module loader, which cost a child about a fifth of
// its start-up (resolving, compiling and linking this entry and msgpackr's modules, none of which a
// code cache covers). child-main.cjs goes into Node's CommonJS cache as it runs, so a target's
// `import 'zstate'` (the "zstate-child" condition maps it to that file) gets this very copy.
import { accessSync, constants, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { Module, createRequire } from 'node:module'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'
import { provideModuleHost } from '../import-module.ts'
import { runAsChild } from './child-process.ts'
import type { RunJob } from './runtime.ts'

const url = new URL('./child-main.cjs', import.meta.url)
const file = fileURLToPath(url)
const cacheFile = fileURLToPath(new URL('./child-main.cache', import.meta.url))
const requireHere = createRequire(file)

// Its import() is this module's, and so is the eval of a function target, whose own import() would
// otherwise be the cached script's (lib/import-module.ts): one from the cache could not run.
provideModuleHost({
  importModule: (specifier) => import(specifier),
  evaluate: (source): unknown => (0, eval)(source) as unknown,
})

if (process.argv[2] === '--make-code-cache') {
  try {
    writeCache(loadChildMain(undefined).script, false)
  } catch (error) {
    process.emitWarning(`zstate: no code cache for child processes: ${(error as Error).message}`)
  }
  process.exit(0)
}

let loaded: Promise<RunJob> | undefined
runAsChild(() => (loaded ??= Promise.resolve().then(childMainRuntime)))

// child-main.cjs's runtime, loaded once. A target may have loaded the file already (its
// `import 'zstate'` goes through Node's CommonJS cache): that copy is the one to share with it.
function childMainRuntime(): RunJob {
  const present = requireHere.cache[file]
  if (present !== undefined) return (present.exports as { runWithContext: RunJob }).runWithContext
  const cache = readCache()
  const { script, exports } = loadChildMain(cache?.data)
  // As the process exits: with what a job compiled too, unless the cache in use had that already;
  // without a job (a warm child let go), only where there was none to use.
  const usable = cache !== undefined && script.cachedDataRejected !== true
  let ran = false
  process.once('exit', () => {
    if (usable && !(ran && !cache.afterJob)) return
    try {
      writeCache(script, ran)
    } catch {
      // A read-only package directory: children go on without.
    }
  })
  return (job, port, loading) => {
    ran = true
    return exports.runWithContext(job, port, loading)
  }
}

// Runs child-main.cjs as Node would require it, compiled from `cachedData` when V8 takes it.
function loadChildMain(cachedData: Buffer | undefined): {
  script: Script
  exports: { runWithContext: RunJob }
} {
  // A CommonJS module's wrapper (the file derives import.meta.url and import.meta.resolve from
  // __filename and require itself).
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
    { filename: file, cachedData },
  )
  const child = new Module(file)
  child.filename = file
  child.paths = requireHere.resolve.paths('zstate') ?? []
  requireHere.cache[file] = child
  const run = script.runInThisContext() as (...args: unknown[]) => void
  run(child.exports, requireHere, child, file, fileURLToPath(new URL('.', url)))
  child.loaded = true
  return { script, exports: child.exports as { runWithContext: RunJob } }
}

// The cache file: the path of the file it was made for (UTF-8), a NUL, whether it was made after a
// job ran ('1') or only once the file had loaded ('0'), then V8's data.
function readCache(): { data: Buffer; afterJob: boolean } | undefined {
  let bytes: Buffer
  try {
    bytes = readFileSync(cacheFile)
  } catch {
    return undefined
  }
  const end = bytes.indexOf(0)
  if (end === -1 || bytes.toString('utf8', 0, end) !== file) return undefined
  return { data: bytes.subarray(end + 2), afterJob: bytes[end + 1] === 0x31 }
}

// The code V8 compiled to load the module (and, after a job, to run it: joining the server,
// running the target, reporting, closing), for every later child to reuse. Written whole or not at
// all (a file of this process's own, renamed into place); without it, children compile the file
// themselves. Throws what kept it from being written.
function writeCache(script: Script, afterJob: boolean): void {
  // A child of a read-only install would make the data only to fail, at every exit.
  accessSync(dirname(cacheFile), constants.W_OK)
  const temporary = `${cacheFile}.${process.pid}.tmp`
  try {
    const header = Buffer.from(`${file}\0${afterJob ? '1' : '0'}`)
    writeFileSync(temporary, Buffer.concat([header, script.createCachedData()]))
    renameSync(temporary, cacheFile)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}
