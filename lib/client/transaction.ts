// state.atomic(): optimistic, serializable transactions. fn runs on a draft of the replica at one
// revision B; the server commits its writes iff nothing it read or wrote changed after B, else the
// client catches up, backs off with jitter, and runs fn again.
import { ConflictError, invalidArgument } from '../errors.ts'
import { DraftRecorder } from '../protocol/draft.ts'
import { immer } from '../protocol/immer.ts'
import type { ReplyReader } from '../link/channel.ts'
import { Op } from '../protocol/ops.ts'
import type { Metrics } from './metrics.ts'
import { readRevision, readTurn } from './replies.ts'
import type { AtomicOptions } from './state-types.ts'
import type { Synchronizer } from './sync.ts'
import { armWait, checkWaitOptions } from '../wait.ts'
import { rejecting } from '../rejecting.ts'
import type { WriteOrder } from './write-order.ts'
import { shown } from '../protocol/values.ts'

const ATOMIC_OPTIONS = ['retries', 'linearizable', 'signal', 'timeout']

export type { AtomicOptions } from './state-types.ts'

export interface TransactionHost {
  readonly sync: Synchronizer
  readonly counters: Metrics
  // The reply payload as `read` reads it; by default, as it is.
  request<T = unknown[]>(op: Op, args: readonly unknown[], read?: ReplyReader<T>): Promise<T>
  // The client's writes, in the order they were issued (lib/client/write-order.ts).
  readonly writes: WriteOrder
  // Aborted (ERR_CLOSED) once the client's close() has started: fn is not run again after that.
  readonly closing: AbortSignal
}

const DEFAULT_RETRIES = 100
const MAX_BACKOFF_MS = 50
// Racing re-runs commit the most per second, but a loser can lose again and again: after this many
// conflicts in a row it queues (lib/server/claims.ts). Measured in docs/benchmarks.md, row (f).
const QUEUE_AFTER = 6

export async function atomic<R>(
  host: TransactionHost,
  prefix: string,
  fn: (draft: never) => R | Promise<R>,
  options: AtomicOptions = {},
): Promise<R> {
  if (typeof fn !== 'function') throw invalidArgument('atomic: fn must be a function')
  checkWaitOptions(options, 'atomic', ATOMIC_OPTIONS)
  const retries = options.retries ?? DEFAULT_RETRIES
  if (!Number.isSafeInteger(retries) || retries < 0)
    throw invalidArgument(`atomic: retries must be an integer ≥ 0, got ${shown(retries)}`)
  const { linearizable = false } = options
  if (typeof linearizable !== 'boolean')
    throw invalidArgument(`atomic: linearizable must be a boolean, got ${shown(linearizable)}`)
  // The timeout ends it where the signal does: before an attempt, or in the back-off.
  const stopped = options.timeout === undefined ? undefined : new AbortController()
  const disarm =
    stopped === undefined ? undefined : armWait(options, 'atomic()', (reason) => stopped.abort(reason))
  const signal = stopped?.signal ?? options.signal
  const { sync, writes } = host
  // The claim this client holds on the keys (lib/server/claims.ts): the request id that queued it, or 0.
  let held = 0
  // This call, holding its client's later writes from its first attempt until it settles.
  const holder = {}
  try {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted()
      host.closing.throwIfAborted()
      const view = sync.replica.openView()
      // A partial replica refuses reads of keys it does not hold (lib/client/coverage.ts).
      const recorder = new DraftRecorder(sync.coverage.guard(view), prefix)
      let result: R
      let changes
      try {
        // Not awaited when it is not a promise: a synchronous fn's attempt is sent before atomic()
        // returns, so the writes its caller issues next come after it.
        const returned = fn(recorder.root as never)
        result = isPromise(returned) ? await returned : returned
        result = finalise(result, recorder.root) as R
        changes = recorder.finish()
      } finally {
        recorder.close()
        view.close()
      }
      try {
        if (view.broken)
          throw new ConflictError('atomic: the replica was rebuilt while fn ran', [], sync.replica.revision)
        if (changes.length === 0 && !linearizable) return result
        // After QUEUE_AFTER conflicts in a row, while it has re-runs left, a conflict makes it wait
        // its turn on the keys instead of racing again (it cannot starve).
        const claim = held
        held = 0
        const reply = await writes.attempt(holder, Op.TXN, [
          view.epoch,
          view.revision,
          [...recorder.reads],
          recorder.keySpaceRead,
          changes,
          attempt >= QUEUE_AFTER && attempt < retries,
          claim,
        ])
        const turn = readTurn(reply)
        if (turn === undefined) {
          const revision = readRevision(reply, 'atomic')
          if (revision > 0) await sync.reach(revision)
          return result
        }
        // It conflicted, and its turn came: fn runs again from there, ahead of later writers.
        held = turn.claim
        host.counters.conflicts++
        await sync.reach(turn.revision)
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error
        host.counters.conflicts++
        if (attempt >= retries) {
          throw new ConflictError(
            `atomic: still conflicting after ${attempt + 1} attempts (keys: ${error.keys.join(', ')})`,
            error.keys,
            error.revision,
            {
              cause: error,
            },
          )
        }
        await sync.reach(error.revision)
        await pause(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt), signal)
      }
    }
  } finally {
    disarm?.()
    // A turn it does not use (fn threw or wrote nothing, or it was aborted) goes to the next in line,
    // at once (the writes this call held may wait for that turn). Never throwing from here: a closed
    // client's turn ends with its session.
    if (held !== 0) {
      const { epoch, revision } = sync.replica
      const release = [epoch, revision, [], false, [], false, held]
      void rejecting(() => host.request(Op.TXN, release)).catch(() => {})
    }
    writes.release(holder)
  }
}

function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

// Replaces immer drafts anywhere in fn's result (plain objects and arrays) by their current values,
// and the draft of the state itself (`return d`) by the state as fn left it, a plain object (every
// key read, as `return { ...d }` reads them).
function finalise(value: unknown, root: object): unknown {
  const { isDraft, current } = immer().module
  const each = (item: unknown): unknown => finalise(item, root)
  if (value === root) return Object.fromEntries(Object.entries(root).map(([k, item]) => [k, each(item)]))
  if (isDraft(value)) return current(value as object)
  // Each item finalised once; a container that holds no draft is returned as it is.
  if (Array.isArray(value)) {
    const items = value.map(each)
    return items.some((item, i) => item !== value[i]) ? items : value
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value)
    const finalised = entries.map(([k, item]) => [k, each(item)] as const)
    return finalised.some(([, item], i) => item !== entries[i]![1]) ? Object.fromEntries(finalised) : value
  }
  return value
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
