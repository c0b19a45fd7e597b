// zstate as a child process has it: the copy that a target's `import 'zstate'` gets, and the runtime
// of every job that needs a context (lib/process/runtime.ts), which the child's bootstrap loads from
// here when a job first needs it (lib/process/bootstrap.ts). From source, this module is also a child
// process's entry (lib/process/launch.ts).
//
// Built as one CommonJS file (no shared chunks: Node 20 loads each module file at a cost, about a
// third of this module's load in chunks; CommonJS, so that the bootstrap can compile it with V8's code
// cache). Children start with the export condition "zstate-child" (lib/process/launch.ts), which the
// package maps to this file, so a target shares this copy of zstate (its classes, `instanceof`) with
// its ctx instead of loading a second one.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'
import { fromSource } from '../package-files.ts'
import { runAsChild } from './child-process.ts'
import { runWithContext } from './context-runtime.ts'

// zstate's export, as a target importing it gets it here (its startServer loads the server then).
export * from '../index.ts'
export { startServer } from './child-server.ts'

// For the bootstrap only: a job run with a context of this copy.
export { runWithContext }

// Only from source: built, a child's entry is the bootstrap, and this file may be inlined into an
// app's own bundle, whose file is then the one the app runs (it would take itself for a child).
if (
  fromSource &&
  isMainThread &&
  process.argv[1] !== undefined &&
  samePath(process.argv[1], fileURLToPath(import.meta.url))
)
  runAsChild(() => Promise.resolve(runWithContext))

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}
