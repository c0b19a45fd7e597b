// The child's side of spawn and map, shared by the process bootstrap and the thread entry: connect,
// load the target, report ready, run it (once, or per item of every batch), report, close.
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { ContextImpl } from './context.ts'
import type { FromChild, ItemBatch, Job, ToChild } from './messages.ts'
import { serializeError, type SerializedError } from './remote-error.ts'
import type { Target } from './target.ts'
import type { WorkerContext } from './types.ts'
import { sendable } from './cloneable.ts'
import { packNumbers } from './numbers.ts'
import { evaluateGlobally, importModule } from '../import-module.ts'
import type { Position } from '../connect.ts'

export interface ParentPort {
  // Rejects when the message cannot be serialised (or the parent is gone).
  send(message: FromChild): Promise<void>
  onMessage(listener: (message: ToChild) => void): void
}

type Work = (ctx: WorkerContext<object>, ...args: unknown[]) => unknown

// Runs the job; resolves with the exit code.
export async function runChild(job: Job, port: ParentPort): Promise<number> {
  defineName()
  const controller = new AbortController()
  const batches = new BatchQueue()
  port.onMessage((message) => {
    if (message.t === 'abort')
      controller.abort(new ZStateError(ErrorCode.ABORTED, `${job.name} was stopped by its parent`))
    else if (message.t === 'items') batches.push(message)
    else if (message.t === 'revoke') {
      if (batches.remove(message.batch))
        void port.send({ t: 'revoked', batch: message.batch }).catch(() => {})
    } else if (message.t === 'end') batches.end()
  })
  controller.signal.addEventListener('abort', () => batches.end(), { once: true })
  let context: ContextImpl<object> | undefined
  try {
    const address = process.env['ZSTATE_ADDRESS']
    if (address === undefined || address === '') throw invalidArgument('ZSTATE_ADDRESS is not set')
    context = new ContextImpl<object>(address.split(','), {
      name: job.name,
      signal: controller.signal,
      curve: job.curve,
      replicate: job.replicate,
      childToken: job.childToken,
    })
    // Loading the target and joining the server overlap: both take a while in a fresh process.
    const [fn] = await Promise.all([load(job.target), context.start()])
    const ctx = context as unknown as WorkerContext<object>
    await port.send({ t: 'ready' })
    if (job.mode === 'map')
      await runItems(fn, ctx, job.args, batches, port, controller.signal, () => context!.position)
    else await report(port, await fn(ctx, ...job.args), context.position)
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
async function report(port: ParentPort, value: unknown, seen: Position): Promise<void> {
  try {
    await port.send({ t: 'result', value, seen }).catch((error: unknown) => {
      const sent = sendable(value)
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
  ctx: WorkerContext<object>,
  args: readonly unknown[],
  batches: BatchQueue,
  port: ParentPort,
  signal: AbortSignal,
  position: () => Position,
): Promise<void> {
  for (let batch = await batches.next(); batch !== undefined; batch = await batches.next()) {
    const started = performance.now()
    const values: unknown[] = new Array(batch.items.length)
    const failed: [number, SerializedError][] = []
    for (let i = 0; i < batch.items.length && !signal.aborted; i++) {
      try {
        const result = fn(
          ctx,
          batch.items[i],
          batch.indices === undefined ? batch.first + i : batch.indices[i],
          ...args,
        )
        values[i] = isThenable(result) ? await result : result
      } catch (error) {
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
          const sent = sendable(value)
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

async function load(target: Target): Promise<Work> {
  if (target.kind === 'function') {
    // In the global scope, so the function sees globals only, as a self-contained one must.
    const fn: unknown = evaluateGlobally(`(${target.source}\n)`)
    if (typeof fn !== 'function') throw new TypeError('the function target did not evaluate to a function')
    return fn as Work
  }
  const module = (await importModule(target.url)) as { default?: unknown }
  if (typeof module.default !== 'function')
    throw new TypeError(`${target.url} has no default export function (got ${typeof module.default})`)
  return module.default as Work
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
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
