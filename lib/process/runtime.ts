// The child's side of spawn and map, shared by the process bootstrap and the thread entry: load the
// target, connect when it needs to, report ready, run it (once, or per item of every batch), report,
// close.
import { abortable } from '../abort.ts'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import type { ContextImpl } from './context.ts'
import { ignoresContext } from './context-use.ts'
import type { FromChild, ItemBatch, Job, ToChild } from './messages.ts'
import { serializeError, type SerializedError } from './remote-error.ts'
import type { Target } from './target.ts'
import type { WorkerContext } from './types.ts'
import { sendable, toParent } from './cloneable.ts'
import { packNumbers } from './numbers.ts'
import { evaluateGlobally, importModule } from '../import-module.ts'
import type { Position } from '../connect.ts'
import { addressList } from '../protocol/address.ts'

export interface ParentPort {
  // Rejects when the message cannot be serialised (or the parent is gone).
  send(message: FromChild): Promise<void>
  // One listener, which gets the messages sent before it listened too.
  onMessage(listener: (message: ToChild) => void): void
}

type Work = (ctx: WorkerContext<object> | undefined, ...args: unknown[]) => unknown

// How long a child's context may take to join its server: its parent's server answers, but 20 children
// that each take a snapshot of 100,000 keys at once on 2 cores took 10 s (a client's default).
const CHILD_JOIN_MS = 60_000

// Runs a job to its end, its target loaded already or loading (`loading`); resolves with the exit code.
export type RunJob = (job: Job, port: ParentPort, loading?: Promise<Work>) => Promise<number>

// A target that never reads its ctx (lib/process/context-use.ts) runs here without one: no client to
// load, no server to join, which is most of a cold child's start. Any other job runs by
// `withContext`, the runtime of the copy of zstate that a target's `import 'zstate'` gets (in a
// child process, child-main.cjs, which the bootstrap loads only then), so that the target and its
// ctx share one copy of zstate's classes. A spawned module is not judged first: most spawned
// targets use their ctx, and its context joins while the module loads.
export async function runChild(
  job: Job,
  port: ParentPort,
  withContext: () => Promise<RunJob>,
): Promise<number> {
  if (job.mode !== 'map' && job.target.kind === 'module') return (await withContext())(job, port)
  const loading = load(job.target)
  // A target that fails to load fails here too, reported without a context.
  const fn = await loading.catch(() => undefined)
  if (fn === undefined || ignoresContext(fn)) return runTarget(job, port, undefined, loading)
  return (await withContext())(job, port, loading)
}

// Runs the job with a context of `Context` joined to the server, or with none (`ctx` undefined).
export async function runTarget(
  job: Job,
  port: ParentPort,
  Context: typeof ContextImpl | undefined,
  loading: Promise<Work> = load(job.target),
): Promise<number> {
  const controller = new AbortController()
  const batches = new BatchQueue()
  // Before listening: the messages held for the runtime (an early 'abort' among them) come at once.
  controller.signal.addEventListener('abort', () => batches.end(), { once: true })
  port.onMessage((message) => {
    if (message.t === 'abort')
      controller.abort(new ZStateError(ErrorCode.ABORTED, `${job.name} was stopped by its parent`))
    else if (message.t === 'items') batches.push(message)
    else if (message.t === 'revoke') {
      if (batches.remove(message.batch))
        void port.send({ t: 'revoked', batch: message.batch }).catch(() => {})
    } else if (message.t === 'end') batches.end()
  })
  let context: ContextImpl<object> | undefined
  try {
    if (Context !== undefined) {
      const address = process.env['ZSTATE_ADDRESS']
      if (address === undefined || address === '') throw invalidArgument('ZSTATE_ADDRESS is not set')
      context = new Context<object>(addressList(address), {
        name: job.name,
        signal: controller.signal,
        curve: job.curve,
        replicate: job.replicate,
        childToken: job.childToken,
        timeout: CHILD_JOIN_MS,
      })
    }
    // Loading the target and joining the server overlap: both take a while in a fresh process.
    const [fn] = await Promise.all([loading, context?.start()])
    const ctx = context as unknown as WorkerContext<object> | undefined
    await port.send({ t: 'ready', joined: context !== undefined })
    const position = (): Position | undefined => context?.position
    if (job.mode === 'map') await runItems(fn, ctx, job.args, batches, port, controller.signal, position)
    // Without a ctx the target cannot see that it was stopped: the child ends at once instead.
    else {
      const result = Promise.resolve(fn(ctx, ...job.args))
      await report(
        port,
        await (ctx === undefined ? abortable(result, controller.signal) : result),
        context?.position,
      )
    }
    return 0
  } catch (error) {
    await port.send({ t: 'error', error: serializeError(error) }).catch(() => {})
    return 1
  } finally {
    await context?.close()
  }
}

// Reports a result (its state snapshots as plain copies, if it holds any and structured clone
// refuses them); one that cannot travel becomes the error that says why.
async function report(port: ParentPort, value: unknown, seen: Position | undefined): Promise<void> {
  try {
    await port.send({ t: 'result', value, seen }).catch((error: unknown) => {
      const sent = sendable(value, toParent)
      if (!('value' in sent) || sent.value === value) throw error
      return port.send({ t: 'result', value: sent.value, seen })
    })
  } catch (error) {
    throw new ZStateError(
      ErrorCode.UNENCODABLE,
      `the result cannot be sent to the parent: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
}

async function runItems(
  fn: Work,
  ctx: WorkerContext<object> | undefined,
  args: readonly unknown[],
  batches: BatchQueue,
  port: ParentPort,
  signal: AbortSignal,
  position: () => Position | undefined,
): Promise<void> {
  for (let batch = await batches.next(); batch !== undefined; batch = await batches.next()) {
    const started = performance.now()
    const values: unknown[] = new Array(batch.items.length)
    const failed: [number, SerializedError][] = []
    const run = (from: number): number => runUntilPromise(fn, ctx, args, batch, values, failed, from, signal)
    for (let i = run(0); i < batch.items.length; i = run(i + 1)) {
      try {
        values[i] = await values[i]
      } catch (error) {
        values[i] = undefined
        failed.push([i, serializeError(error)])
      }
    }
    if (signal.aborted) return
    const ms = performance.now() - started
    const seen = position()
    await port
      .send({ t: 'results', batch: batch.batch, values: packNumbers(values), failed, ms, seen })
      .catch(async () => {
        // Some value cannot travel: report those items as failed, the rest as usual (state snapshots
        // as plain copies).
        values.forEach((value, i) => {
          const sent = sendable(value, toParent)
          if ('value' in sent) return void (values[i] = sent.value)
          values[i] = undefined
          failed.push([
            i,
            serializeError(new ZStateError(ErrorCode.UNENCODABLE, 'the result cannot be sent to the parent')),
          ])
        })
        await port.send({ t: 'results', batch: batch.batch, values, failed, ms, seen })
      })
  }
}

// Runs the batch's items from `from` on until one returns a promise, left in `values` for the caller
// to await, and returns its position (the batch's length when none did, or once aborted).
// Synchronous, so that V8 optimizes the loop while it runs: inside the async loop, a fresh worker
// ran tiny items interpreted for most of a 100,000-item map, at about 0.7 µs each against 0.03 µs
// here. An abort comes as a message, which only an await lets in: it is checked once per call.
function runUntilPromise(
  fn: Work,
  ctx: WorkerContext<object> | undefined,
  args: readonly unknown[],
  batch: ItemBatch,
  values: unknown[],
  failed: [number, SerializedError][],
  from: number,
  signal: AbortSignal,
): number {
  const { items, indices, first } = batch
  if (signal.aborted) return items.length
  for (let i = from; i < items.length; i++) {
    const index = indices === undefined ? first + i : indices[i]
    try {
      const result = args.length === 0 ? fn(ctx, items[i], index) : fn(ctx, items[i], index, ...args)
      values[i] = result
      if (isThenable(result)) return i
    } catch (error) {
      failed.push([i, serializeError(error)])
    }
  }
  return items.length
}

async function load(target: Target): Promise<Work> {
  defineName()
  if (target.kind === 'function') {
    // In the global scope, so the function sees globals only, as a self-contained one must.
    const fn: unknown = evaluateGlobally(`(${target.source}\n)`)
    if (typeof fn !== 'function') throw new TypeError('the function target did not evaluate to a function')
    return fn as Work
  }
  const module = (await importModule(target.url)) as { default?: unknown }
  const fn = transpiledDefault(module.default) ?? module.default
  if (typeof fn !== 'function')
    throw new TypeError(`${target.url} has no default export function (got ${typeof fn})`)
  return fn as Work
}

// A CommonJS module compiled from `export default` (tsc, Babel) imports in Node as { default: exports },
// its function at exports.default, flagged __esModule.
function transpiledDefault(exports: unknown): unknown {
  const compiled = exports as { __esModule?: unknown; default?: unknown } | null | undefined
  return typeof compiled === 'object' && compiled?.__esModule === true ? compiled.default : undefined
}

// tsx (esbuild keepNames) wraps named functions in __name(...): stringified ones need it here.
function defineName(): void {
  const global = globalThis as { __name?: unknown }
  global.__name ??= (fn: object, value: string) =>
    Object.defineProperty(fn, 'name', { value, configurable: true })
}

class BatchQueue {
  readonly #queue: ItemBatch[] = []
  #ended = false
  #wake: (() => void) | undefined

  push(batch: ItemBatch): void {
    this.#queue.push(batch)
    this.#wake?.()
  }

  end(): void {
    this.#ended = true
    this.#wake?.()
  }

  // Takes a batch out that has not been started; false when it has (or never came).
  remove(batch: number): boolean {
    const at = this.#queue.findIndex((queued) => queued.batch === batch)
    if (at < 0) return false
    this.#queue.splice(at, 1)
    return true
  }

  async next(): Promise<ItemBatch | undefined> {
    while (this.#queue.length === 0 && !this.#ended)
      await new Promise<void>((resolve) => (this.#wake = resolve))
    this.#wake = undefined
    return this.#ended ? undefined : this.#queue.shift()
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  // A number or a string never is: no property lookup for them.
  const type = typeof value
  return (
    ((type === 'object' && value !== null) || type === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
