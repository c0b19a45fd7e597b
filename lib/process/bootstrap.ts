// Entry point of every child process zstate spawns, as built (from source, child-main.ts is the entry
// itself). It runs child-main.cjs, the child's one-file copy of zstate, with V8's code cache, which the
// build makes beside it (`--make-code-cache`): Node 20 keeps no compiled code between processes, and
// compiling that file was about 3 to 5 ms of every child's start. A cache that V8 refuses (another
// Node, other V8 flags) only means compiling as before.
//
// child-main.cjs goes into Node's CommonJS cache as it runs, so a target's `import 'zstate'` (the
// "zstate-child" condition maps it to that file) gets this very copy. msgpackr is imported here, as the
// ES module the rest of zstate uses: its CommonJS entry would load its native decoder at once, which
// zstate loads only once a process decodes enough to gain from it (lib/protocol/codec.ts).
import * as msgpackr from 'msgpackr/pack'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { Module, createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'
import { provideImporter } from '../import-module.ts'

const url = new URL('./child-main.cjs', import.meta.url)
const file = fileURLToPath(url)
const cacheFile = fileURLToPath(new URL('./child-main.cache', import.meta.url))
const making = process.argv[2] === '--make-code-cache'

const cached = making ? undefined : readCache()
// A CommonJS module's wrapper, and import.meta.resolve (which the build maps to the last argument; the
// file derives import.meta.url from __filename itself, and require's resolution when run without it).
const script = new Script(
  `(function (exports, require, module, __filename, __dirname, __importMetaResolve) {${readFileSync(file, 'utf8')}\n})`,
  {
    filename: file,
    cachedData: cached,
  },
)
// Its import() is this module's (lib/import-module.ts): one from the cache could not run.
provideImporter((specifier) => import(specifier))
const requireHere = createRequire(file)
const child = new Module(file)
child.filename = file
child.paths = requireHere.resolve.paths('zstate') ?? []
requireHere.cache[file] = child
const run = script.runInThisContext() as (...args: unknown[]) => void
run(
  child.exports,
  (id: string): unknown => (id === 'msgpackr/pack' ? msgpackr : (requireHere(id) as unknown)),
  child,
  file,
  fileURLToPath(new URL('.', url)),
  (specifier: string) => import.meta.resolve(specifier),
)
child.loaded = true

if (making) makeCache()
else (child.exports as { runAsChild(): void }).runAsChild()

function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile)
  } catch {
    return undefined
  }
}

// At build time: the code V8 compiled to load the module, for every child to reuse. Written whole or
// not at all; without it, children compile the file themselves.
function makeCache(): void {
  try {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData())
    renameSync(`${cacheFile}.tmp`, cacheFile)
  } catch (error) {
    process.emitWarning(`zstate: no code cache for child processes: ${(error as Error).message}`)
  }
  process.exit(0)
}
