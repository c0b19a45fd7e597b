// The typed face of StateView: what API.md's State section promises, generic in the store's shape.
import type { Draft as ImmerDraft } from 'immer'
import type { Change } from './replica.ts'
import type { AtomicOptions } from './transaction.ts'
import type { RevisionEvent } from './observers.ts'
import type { WhenOptions } from './waiters.ts'
import type { WatchOptions } from './watch.ts'

type Key<S> = keyof S & string
type Value<S> = S[Key<S>]

// The whole state as a transaction sees it: a mutable object whose values are immer drafts.
export type Draft<S> = { -readonly [K in keyof S]?: ImmerDraft<S[K]> }

// Read-only accessor handed to whole-state predicates.
export interface StateReader<S> {
  get<K extends Key<S>>(key: K): S[K] | undefined
  has(key: Key<S>): boolean
  keys(): IterableIterator<Key<S>>
  values(): IterableIterator<Value<S>>
  entries(): IterableIterator<[Key<S>, Value<S>]>
  readonly size: number
  readonly revision: number
}

export interface TypedChange<S, K extends Key<S> = Key<S>> extends Change<S[K]> {
  key: K
}

export interface State<S extends object = Record<string, unknown>> extends StateReader<S> {
  [Symbol.iterator](): IterableIterator<[Key<S>, Value<S>]>
  snapshot(): Readonly<Partial<S>>
  scope<T extends object = Record<string, unknown>>(prefix: string): State<T>
  sync(): Promise<number>

  set<K extends Key<S>>(key: K, value: S[K]): Promise<number>
  delete(key: Key<S>): Promise<boolean>
  update(values: Partial<S>): Promise<number>
  clear(): Promise<void>
  increment(key: Key<S>, by?: number): Promise<number>
  increment(key: Key<S>, by: bigint): Promise<bigint>
  compareAndSet<K extends Key<S>>(key: K, expected: S[K] | undefined, next: S[K]): Promise<boolean>
  atomic<R>(fn: (draft: Draft<S>) => R | Promise<R>, options?: AtomicOptions): Promise<R>
  run<R = unknown>(action: string, ...args: unknown[]): Promise<R>

  when<K extends Key<S>>(
    key: K,
    predicate: (value: S[K] | undefined) => boolean,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  when(predicate: (view: StateReader<S>) => boolean, options?: WhenOptions): Promise<Readonly<Partial<S>>>
  whenChange<K extends Key<S>>(keys: K | K[], options?: WhenOptions): Promise<TypedChange<S, K>>
  whenEqual<K extends Key<S>>(
    key: K,
    value: S[K] | undefined,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  whenNotEqual<K extends Key<S>>(
    key: K,
    value: S[K] | undefined,
    options?: WhenOptions,
  ): Promise<S[K] | undefined>
  whenTruthy<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K]>
  whenFalsy<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K] | undefined>
  whenAvailable<K extends Key<S>>(key: K, options?: WhenOptions): Promise<S[K]>
  whenDeleted(key: Key<S>, options?: WhenOptions): Promise<void>

  watch<K extends Key<S>>(options?: WatchOptions & { key?: K }): AsyncIterableIterator<TypedChange<S, K>>
  subscribe(listener: (event: RevisionEvent<Value<S>>) => void): () => void
}
