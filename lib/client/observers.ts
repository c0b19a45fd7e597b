// Everyone who reacts to applied revisions, called in the order docs/state.md fixes:
// subscribe listeners, then waiters, then watch streams.
import { decoded } from '../protocol/undecoded.ts'
import type { Change, RevisionEvent } from './state-types.ts'

export type { RevisionEvent } from './state-types.ts'

export type Listener = (event: RevisionEvent) => void

// A pending `when…` call. `prefix` waiters see every revision touching the prefix ('' = all).
export interface Waiter {
  readonly keys: readonly string[] | undefined
  readonly prefix: string | undefined
  onRevision(revision: number, change: Change | undefined): void
  onReset(): void
  fail(error: unknown): void
}

// A watch() iterator's intake: a revision's changes, together.
export interface Stream {
  pushAll(changes: readonly Change[]): void
  onReset(): void
  end(error?: unknown): void
}

export class Observers {
  #listeners: Listener[] = []
  readonly #keyWaiters = new Map<string, Set<Waiter>>()
  readonly #prefixWaiters = new Set<Waiter>()
  readonly #streams = new Set<Stream>()
  // Waiters and streams added while a revision is handed out (by a listener, or a waiter's own
  // predicate): they start after that revision, which the replica already shows, so they skip it.
  #dispatching = false
  readonly #addedDuring = new Set<Waiter | Stream>()
  #closed: { error: unknown } | undefined

  // Set by close(): a waiter made later rejects with it, whatever the replica shows.
  get closed(): { readonly error: unknown } | undefined {
    return this.#closed
  }

  // Whether applying a commit needs to describe its changes at all.
  get active(): boolean {
    return (
      this.#listeners.length > 0 ||
      this.#keyWaiters.size > 0 ||
      this.#prefixWaiters.size > 0 ||
      this.#streams.size > 0
    )
  }

  // Whether a change of `key` reaches anyone with its value (and previous value): every change does
  // when a listener or a stream is open, otherwise only those of keys that waiters name (the others'
  // waiters look at the replica themselves). The replica decodes only those values (Undecoded).
  readonly needsValue = (key: string): boolean =>
    this.#listeners.length > 0 || this.#streams.size > 0 || this.#keyWaiters.has(key)

  // Whether a watch() stream is open: streams consume in microtasks, one change per hop.
  get streaming(): boolean {
    return this.#streams.size > 0
  }

  listen(listener: Listener): () => void {
    this.#listeners = [...this.#listeners, listener]
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener)
    }
  }

  addWaiter(waiter: Waiter): void {
    if (this.#closed !== undefined) return waiter.fail(this.#closed.error)
    if (this.#dispatching) this.#addedDuring.add(waiter)
    if (waiter.keys === undefined) return void this.#prefixWaiters.add(waiter)
    for (const key of waiter.keys) {
      let set = this.#keyWaiters.get(key)
      if (set === undefined) this.#keyWaiters.set(key, (set = new Set()))
      set.add(waiter)
    }
  }

  removeWaiter(waiter: Waiter): void {
    if (waiter.keys === undefined) return void this.#prefixWaiters.delete(waiter)
    for (const key of waiter.keys) {
      const set = this.#keyWaiters.get(key)
      if (set === undefined) continue
      set.delete(waiter)
      if (set.size === 0) this.#keyWaiters.delete(key)
    }
  }

  addStream(stream: Stream): () => void {
    if (this.#closed !== undefined) {
      queueMicrotask(() => stream.end())
      return () => {}
    }
    if (this.#dispatching) this.#addedDuring.add(stream)
    this.#streams.add(stream)
    return () => this.#streams.delete(stream)
  }

  revision(revision: number, changes: Change[]): void {
    this.#dispatching = true
    try {
      this.#dispatch(revision, changes)
    } finally {
      this.#dispatching = false
      // Clearing gives a Set a new table: only when something was added.
      if (this.#addedDuring.size > 0) this.#addedDuring.clear()
    }
  }

  #dispatch(revision: number, changes: Change[]): void {
    const late = this.#addedDuring
    this.#emit({ revision, changes })
    for (const change of changes) {
      const set = this.#keyWaiters.get(change.key)
      if (set === undefined) continue
      withValues(change)
      for (const waiter of set) if (late.size === 0 || !late.has(waiter)) waiter.onRevision(revision, change)
    }
    for (const waiter of this.#prefixWaiters) {
      if (late.size > 0 && late.has(waiter)) continue
      const prefix = waiter.prefix ?? ''
      if (prefix === '' || changes.some((c) => c.key.startsWith(prefix)))
        waiter.onRevision(revision, undefined)
    }
    if (this.#streams.size === 0) return
    for (const change of changes) withValues(change)
    for (const stream of this.#streams) {
      if (late.size > 0 && late.has(stream)) continue
      stream.pushAll(changes)
    }
  }

  // The replica was rebuilt from a snapshot: waiters look once at the new state (what the snapshot
  // changed is no change that a whenChange waits for: the revisions between are unknown), streams end.
  reset(revision: number, changes: Change[]): void {
    this.#emit({ revision, changes, reset: true })
    for (const set of [...this.#keyWaiters.values()]) for (const waiter of set) waiter.onReset()
    for (const waiter of [...this.#prefixWaiters]) waiter.onReset()
    for (const stream of [...this.#streams]) stream.onReset()
  }

  close(error: unknown): void {
    this.#closed = { error }
    for (const set of [...this.#keyWaiters.values()]) for (const waiter of set) waiter.fail(error)
    for (const waiter of [...this.#prefixWaiters]) waiter.fail(error)
    for (const stream of [...this.#streams]) stream.end()
    this.#listeners = []
  }

  #emit(event: RevisionEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        process.emitWarning(
          `zstate: a subscribe listener threw: ${(error as Error)?.stack ?? String(error)}`,
          'ZStateListenerWarning',
        )
      }
    }
  }
}

// A change as it is handed out: its values decoded. needsValue() had them decoded when the commit was
// applied; this covers a waiter or a stream that a listener added since.
function withValues(change: Change): void {
  change.value = decoded(change.value)
  change.previous = decoded(change.previous)
}
