// The typed face of StateView: what docs/state.md promises, generic in the store's shape.
// Every type a State method takes or returns is declared here, in a module that imports no
// implementation, so the published declarations never reach one.
import type { Draft as ImmerDraft, WritableNonArrayDraft } from 'immer'

type Key<S> = keyof S & string
type Value<S> = S[Key<S>]
// The keys whose values may be a V: what increment() takes (every key, for an untyped state).
type KeyHolding<S, V> = { [K in Key<S>]: V extends S[K] ? K : never }[Key<S>]

// What atomic() resolves with: fn's result with drafts replaced by the plain values they stand for,
// as the runtime replaces them (the whole draft `d` by a plain object of the state). Inferring from a
// draft type recovers the type it was made from; checking back keeps any other object (a class
// instance, a Map) as it is. Date and Uint8Array are never drafted, and would match structurally.
type Undrafted<T> = T extends Date | Uint8Array
  ? T
  : T extends object
    ? T extends Draft<infer S>
      ? Draft<S> extends T
        ? Partial<S>
        : UndraftedValue<T>
      : UndraftedValue<T>
    : T
type UndraftedValue<T> =
  T extends WritableNonArrayDraft<infer U> ? (WritableNonArrayDraft<U> extends T ? U : T) : T

/** One key written by one revision, as watchers, waiters and `subscribe` listeners see it. */
export interface Change<V = unknown> {
  /** The key written; relative to the prefix in a `state.scope()` view. */
  key: string
  /** The value after the revision; `undefined` when it deleted the key. */
  value: V | undefined
  /** The value before the revision; `undefined` when the key was absent. */
  previous: V | undefined
  /** Whether the revision deleted the key (`delete`, `clear`, or a delete inside `atomic`/`run`). */
  deleted: boolean
  /** The revision that wrote it. */
  revision: number
}

/** What a `state.subscribe()` listener gets: one call per revision applied to the replica, in order. */
export interface RevisionEvent<V = unknown> {
  /** The revision just applied; the replica shows it while listeners run. */
  revision: number
  /** Every key the revision wrote (in a scoped view, only the keys under its prefix). */
  changes: Change<V>[]
  /**
   * Set when the replica was rebuilt from a snapshot (history exhausted, or a new server epoch):
   * `changes` then lists every key whose value differs from what the replica held before.
   */
  reset?: true
}

/** Options of every `state.when…()` waiter. */
export interface WhenOptions {
  /** ms to wait before rejecting with TimeoutError (ERR_TIMEOUT); default: no limit. */
  timeout?: number | undefined
  /** Aborting it rejects the waiter with `signal.reason`, unchanged. */
  signal?: AbortSignal | undefined
  /**
   * Skip the check against the replica as it is when called: only a later revision writing the
   * key(s) can satisfy the waiter. Default false.
   */
  changed?: boolean | undefined
}

/** Options of `state.watch()`. Without `key` or `prefix` it sees every key of the (scoped) state. */
export interface WatchOptions {
  /** Only changes of this key. */
  key?: string | undefined
  /** Only changes of keys starting with this prefix. */
  prefix?: string | undefined
  /**
   * Replay from this revision (inclusive) out of the server's history, then go on live; a revision
   * the history no longer holds fails the iterator with ERR_COMPACTED. Default: only changes
   * committed after the replica's revision when `watch()` is called.
   */
  fromRevision?: number | undefined
  /**
   * Keep only the newest unconsumed change per key (for UIs that show current values). Default
   * false: every change is kept, up to 10 000 unconsumed, then the iterator fails with ERR_OVERFLOW.
   */
  latest?: boolean | undefined
  /** Aborting it ends the iteration. */
  signal?: AbortSignal | undefined
}

/** Options of `state.atomic()`. */
export interface AtomicOptions {
  /** How many times `fn` is re-run after a conflict before ConflictError (ERR_CONFLICT); default 100. */
  retries?: number | undefined
  /**
   * Commit even a read-only transaction through the server, so what `fn` read is proven current
   * when `atomic` resolves; default false (a read-only `fn` returns from the replica at once).
   */
  linearizable?: boolean | undefined
  /** Aborting it stops retrying and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined
  /** ms after which it stops retrying and rejects with TimeoutError (ERR_TIMEOUT), as `signal` does. */
  timeout?: number | undefined
}

/**
 * What every write takes, as every request-making call does: a bound on its own wait, under the
 * client's `requestTimeout`. It ends the waiting only: a write issued is sent, and once sent its
 * outcome is unknown (it may still commit), as after any ERR_TIMEOUT of a write.
 */
export interface WriteOptions {
  /** ms; ERR_TIMEOUT when the write is not yet visible in this replica by then. */
  timeout?: number | undefined
  /** Aborting it rejects with `signal.reason`; one aborted already sends nothing. */
  signal?: AbortSignal | undefined
}

/** Options of `state.set()` and `state.compareAndSet()`: a key that lives only while its lease holds. */
export interface SetOptions extends WriteOptions {
  /**
   * Delete the key, in one revision with this client's other ephemeral keys, when this client's
   * session ends (close(), or heartbeat loss; not across a server restart). Default false.
   */
  ephemeral?: boolean | undefined
  /**
   * Delete the key when it is not written again within this many ms (deleted between ttl and
   * ttl + 1 s after the write; an integer from 1 to a year's worth). Default: never.
   */
  ttl?: number | undefined
}

/** The whole state as a transaction sees it: a mutable object whose values are immer drafts. */
export type Draft<S> = { -readonly [K in keyof S]?: ImmerDraft<S[K]> }

/** Read-only, synchronous access to the replica: what whole-state predicates get. */
export interface StateReader<S> {
  /** The value of `key`, or `undefined` when absent. A bare lookup: no copy; objects are frozen. */
  get<K extends Key<S>>(key: K): S[K] | undefined
  /** Whether `key` is present. */
  has(key: Key<S>): boolean
  /** A live iterator over the keys, like Map's. */
  keys(): IterableIterator<Key<S>>
  /** A live iterator over the values, like Map's. */
  values(): IterableIterator<Value<S>>
  /** A live iterator over `[key, value]` pairs, like Map's. */
  entries(): IterableIterator<[Key<S>, Value<S>]>
  /** How many keys there are. */
  readonly size: number
  /** The revision the replica reflects; an empty store is at 0, the first commit is 1. */
  readonly revision: number
}

/** A Change whose key and value are typed by the store's shape `S`. */
export interface TypedChange<S, K extends Key<S> = Key<S>> extends Change<S[K]> {
  /** The key written. */
  key: K
}

/**
 * A Map-like view of the shared store, generic in its shape `S`. Reads are synchronous, from the
 * local replica; every write resolves once its commit is visible here (read-your-writes).
 * Keys: non-empty strings of at most 1 024 UTF-8 bytes, not `"__proto__"`.
 */
export interface State<S extends object = Record<string, unknown>> extends StateReader<S> {
  /** A live iterator over `[key, value]` pairs, like Map's. */
  [Symbol.iterator](): IterableIterator<[Key<S>, Value<S>]>
  /**
   * The whole state at `revision`: a deeply frozen, read-only object view (a Proxy) that reads like a
   * plain object; O(1) to take, cached per revision. `{ ...snapshot }` gives a plain copy (for
   * `structuredClone` or `postMessage`).
   */
  snapshot(): Readonly<Partial<S>>
  /**
   * A view of the keys under `prefix`: its keys are unprefixed, and its watchers, waiters,
   * listeners and snapshot see only them.
   */
  scope<T extends object = Record<string, unknown>>(prefix: string): State<T>
  /** A barrier: resolves with the revision once the replica has caught up with the server. */
  sync(options?: { timeout?: number | undefined; signal?: AbortSignal | undefined }): Promise<number>

  /**
   * Stores a copy of `value`; resolves with the revision (a commit even when the value is equal).
   * With `options` the key is ephemeral or expires; any later write of the key without them (by
   * anyone, with any method) makes it permanent again.
   */
  set<K extends Key<S>>(key: K, value: S[K], options?: SetOptions): Promise<number>
  /** Deletes `key`; resolves with false, and commits nothing, when it was absent. */
  delete(key: Key<S>, options?: WriteOptions): Promise<boolean>
  /** Writes several keys in one revision; resolves with it. */
  update(values: Partial<S>, options?: WriteOptions): Promise<number>
  /**
   * Deletes every key (of this scope) in one revision and resolves with it; commits nothing, and
   * resolves with 0, when there was nothing to delete.
   */
  clear(options?: WriteOptions): Promise<number>
  /**
   * Adds `by` (default 1) to a number, atomically on the server; an absent key counts as 0.
   * Resolves with the new value. A non-numeric value is refused with ERR_INVALID_ARGUMENT.
   */
  increment(key: KeyHolding<S, number>, by?: number, options?: WriteOptions): Promise<number>
  /** Adds `by` to a bigint, atomically on the server; an absent key counts as 0n. Resolves with the sum. */
  increment(key: KeyHolding<S, bigint>, by: bigint, options?: WriteOptions): Promise<bigint>
  /** Either of the above, for a key that may hold a number or a bigint (an untyped state's). */
  increment(
    key: KeyHolding<S, number> & KeyHolding<S, bigint>,
    by: number | bigint,
    options?: WriteOptions,
  ): Promise<number | bigint>
  /**
   * Writes `next` only if the key's value deep-equals `expected` (`undefined`: only if absent);
   * resolves with whether it did. `ephemeral` and `ttl` as for set(), for the value it writes:
   * `compareAndSet('leader', undefined, me, { ephemeral: true })` elects a leader until it leaves.
   */
  compareAndSet<K extends Key<S>>(
    key: K,
    expected: S[K] | undefined,
    next: S[K],
    options?: SetOptions,
  ): Promise<boolean>
  /**
   * Runs `fn` on a draft of the state and commits its writes as one serializable revision, all or
   * nothing. `fn` may be re-run on conflict: no side effects outside the draft. After 6 conflicts
   * in a row it waits its turn on the keys (a standalone server's), so it cannot starve. Resolves
   * with what `fn` returned, drafts in it replaced by their current values; ConflictError
   * (ERR_CONFLICT) once `retries` (default 100) are used up.
   */
  atomic<R>(fn: (draft: Draft<S>) => R | Promise<R>, options?: AtomicOptions): Promise<Undrafted<R>>
  /**
   * Runs the named export of the server's `actions` module as `(draft, ...args)`, atomically
   * inside the server (no retries). Unknown action: ERR_INVALID_ARGUMENT; a throwing action
   * changes nothing and rejects with RemoteError.
   */
  run<R = unknown>(action: string, ...args: unknown[]): Promise<R>

  /**
   * Resolves with the key's value once `predicate` accepts it (a missing key is `undefined`),
   * checked now (unless `changed`) and on every later revision writing the key.
   */
  when<K extends Key<S>>(
    key: K,
    predicate: (value: S[K] | undefined) => boolean,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  /**
   * Resolves with the snapshot once `predicate` accepts the whole state, checked now (unless
   * `changed`) and after every revision. `view` is valid only during the call.
   */
  when(predicate: (view: StateReader<S>) => boolean, options?: WhenOptions): Promise<Readonly<Partial<S>>>
  /** Resolves with the first change, in a later revision, of one of `keys`. */
  whenChange<K extends Key<S>>(keys: K | K[], options?: WhenOptions): Promise<TypedChange<S, K>>
  /** Resolves once the key's value deep-equals `value` (`undefined`: absent). */
  whenEqual<K extends Key<S>>(
    key: K,
    value: S[K] | undefined,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  /** Resolves with the key's value once it no longer deep-equals `value`. */
  whenNotEqual<K extends Key<S>>(
    key: K,
    value: S[K] | undefined,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  /** Resolves with the key's value once it is truthy. */
  whenTruthy<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K]>
  /** Resolves with the key's value once it is falsy (a missing key is: `undefined`). */
  whenFalsy<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K] | undefined>
  /** Resolves with the key's value once the key is present. */
  whenAvailable<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K]>
  /** Resolves once the key is absent. */
  whenDeleted(key: Key<S>, options?: WhenOptions): Promise<void>

  /**
   * The changes committed after this call (or from `fromRevision`), in order, as an async
   * iterator: subscribed at once; `break`, `return()`, `signal` or `await using` end it.
   */
  watch<K extends Key<S>>(
    options?: WatchOptions & { key?: K | undefined },
  ): AsyncIterableIterator<TypedChange<S, K>> & AsyncDisposable
  /**
   * Calls `listener` synchronously for every revision applied to the replica, in order; returns
   * the function that unsubscribes it. A listener that throws is reported with
   * `process.emitWarning`; the others still run.
   */
  subscribe(listener: (event: RevisionEvent<Value<S>>) => void): () => void
}
