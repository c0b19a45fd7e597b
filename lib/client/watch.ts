// state.watch(): an async iterator of changes, subscribed when created, optionally replayed from history.
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import type { WireCommit } from '../protocol/ops.ts'
import type { Stream } from './observers.ts'
import type { Change } from './replica.ts'
import type { Synchronizer } from './sync.ts'
import { changesOf } from './history-changes.ts'

export interface WatchOptions {
  key?: string | undefined
  prefix?: string | undefined
  fromRevision?: number | undefined
  latest?: boolean | undefined
  signal?: AbortSignal | undefined
}

const MAX_UNCONSUMED = 10_000

export type History = (from: number, to: number) => Promise<WireCommit[]>

// `scope` is the state's prefix: it is stripped from the keys the caller sees.
export function watch(
  sync: Synchronizer,
  scope: string,
  options: WatchOptions,
  history: History,
): AsyncIterableIterator<Change> {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('watch: options must be an object')
  const { key, prefix, fromRevision, latest, signal } = options
  if (key !== undefined && typeof key !== 'string') throw invalidArgument('watch: key must be a string')
  if (prefix !== undefined && typeof prefix !== 'string')
    throw invalidArgument('watch: prefix must be a string')
  if (fromRevision !== undefined && !(Number.isSafeInteger(fromRevision) && fromRevision >= 1)) {
    throw invalidArgument(`watch: fromRevision must be an integer ≥ 1, got ${String(fromRevision)}`)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument('watch: signal must be an AbortSignal')
  const exact = key === undefined ? undefined : scope + key
  const start = scope + (prefix ?? '')
  const matches = (k: string): boolean => (exact !== undefined ? k === exact : k.startsWith(start))
  const view = (change: Change): Change =>
    scope === '' ? change : { ...change, key: change.key.slice(scope.length) }
  return new WatchIterator(sync, matches, view, latest === true, signal, fromRevision, history)
}

class WatchIterator implements AsyncIterableIterator<Change>, Stream {
  readonly #matches: (key: string) => boolean
  readonly #view: (change: Change) => Change
  readonly #latest: boolean
  readonly #signal: AbortSignal | undefined
  readonly #unsubscribe: () => void
  #queue: Change[] = []
  #byKey = new Map<string, Change>() // latest mode: newest unconsumed change per key
  #ending: { error: unknown } | undefined
  #done = false
  #wake: (() => void) | undefined
  #replay: Promise<Change[]> | undefined
  readonly #from: number

  constructor(
    sync: Synchronizer,
    matches: (key: string) => boolean,
    view: (change: Change) => Change,
    latest: boolean,
    signal: AbortSignal | undefined,
    fromRevision: number | undefined,
    history: History,
  ) {
    this.#matches = matches
    this.#view = view
    this.#latest = latest
    this.#signal = signal
    this.#unsubscribe = sync.observers.addStream(this)
    const upTo = sync.replica.revision
    this.#from = fromRevision ?? 0
    if (fromRevision !== undefined && fromRevision <= upTo)
      this.#replay = this.#load(history, fromRevision, upTo)
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    if (signal?.aborted) this.#onAbort()
  }

  async #load(history: History, from: number, to: number): Promise<Change[]> {
    const all: WireCommit[] = []
    while (from <= to) {
      const commits = await history(from, to)
      if (commits.length === 0) break
      all.push(...commits)
      from = commits[commits.length - 1]![0] + 1
    }
    const changes: Change[] = []
    for (const change of changesOf(all)) if (this.#matches(change.key)) changes.push(this.#view(change))
    return changes
  }

  readonly #onAbort = (): void => this.end({ abort: true })

  push(change: Change): void {
    if (this.#ending !== undefined || change.revision < this.#from || !this.#matches(change.key)) return
    const seen = this.#view(change)
    if (this.#latest) {
      this.#byKey.delete(seen.key)
      this.#byKey.set(seen.key, seen)
    } else if (this.#queue.length >= MAX_UNCONSUMED) {
      this.#stop({
        error: new ZStateError(
          ErrorCode.OVERFLOW,
          `watch: more than ${MAX_UNCONSUMED} changes were not consumed`,
        ),
      })
      return
    } else this.#queue.push(seen)
    this.#wake?.()
  }

  onReset(): void {
    this.#stop({
      error: new ZStateError(
        ErrorCode.COMPACTED,
        'watch: the replica was rebuilt from a snapshot; changes may have been skipped',
      ),
    })
  }

  // Ends the stream: abort rejects with signal.reason, close ends it quietly.
  end(how?: { abort: true }): void {
    this.#stop({ error: how === undefined ? undefined : this.#signal?.reason })
  }

  #stop(ending: { error: unknown }): void {
    if (this.#ending !== undefined) return
    this.#ending = ending
    this.#unsubscribe()
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#wake?.()
  }

  async next(): Promise<IteratorResult<Change>> {
    if (this.#done) return { done: true, value: undefined }
    if (this.#replay !== undefined) {
      const replayed = await this.#replay.catch((error: unknown) => {
        this.#stop({ error })
        return []
      })
      this.#replay = undefined
      this.#queue = [...replayed, ...this.#queue]
    }
    for (;;) {
      const change = this.#take()
      if (change !== undefined) return { done: false, value: change }
      if (this.#ending !== undefined) {
        this.#done = true
        if (this.#ending.error !== undefined) throw this.#ending.error
        return { done: true, value: undefined }
      }
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
  }

  #take(): Change | undefined {
    if (this.#queue.length > 0) return this.#queue.shift()
    if (this.#latest && this.#byKey.size > 0) {
      const [key, change] = this.#byKey.entries().next().value as [string, Change]
      this.#byKey.delete(key)
      return change
    }
    return undefined
  }

  async return(): Promise<IteratorResult<Change>> {
    this.#stop({ error: undefined })
    this.#done = true
    this.#queue = []
    this.#byKey.clear()
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Change> {
    return this
  }
}
