// A job run with a context joined to the server: what child-main.cjs gives the bootstrap of a child
// process, and what a worker thread runs directly (lib/process/runtime.ts decides which jobs need it).
import { ContextImpl } from './context.ts'
import { runTarget, type RunJob } from './runtime.ts'

export const runWithContext: RunJob = (job, port, loading) => runTarget(job, port, ContextImpl, loading)
