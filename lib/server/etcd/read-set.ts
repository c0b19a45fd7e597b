// The replica as an operation sees it on an etcd gateway: it records what the operation read, so that
// the etcd transaction can check that none of it changed before the write commits.
import type { Shape } from '../../protocol/codec.ts'
import type { WirePatch } from '../../protocol/patches.ts'
import type { Store, StoreView } from '../store.ts'

export class ReadSet implements StoreView {
  readonly #read = new Set<string>()
  // Whether the outcome depends on which keys exist (an enumeration, a count).
  keySpace = false
  readonly #store: Store

  constructor(store: Store) {
    this.#store = store
  }

  get read(): ReadonlySet<string> {
    return this.#read
  }
  get empty(): boolean {
    return this.#read.size === 0 && !this.keySpace
  }
  get epoch(): string {
    return this.#store.epoch
  }
  get revision(): number {
    return this.#store.revision
  }
  get size(): number {
    this.keySpace = true
    return this.#store.size
  }
  get(key: string): unknown {
    this.#read.add(key)
    return this.#store.get(key)
  }
  shape(key: string): Shape | undefined {
    this.#read.add(key)
    return this.#store.shape(key)
  }
  has(key: string): boolean {
    this.#read.add(key)
    return this.#store.has(key)
  }
  keys(): IterableIterator<string> {
    this.keySpace = true
    return this.#store.keys()
  }
  patched(key: string, patches: readonly WirePatch[]): unknown {
    this.#read.add(key)
    return this.#store.patched(key, patches)
  }
  changedSince(base: number, keys: Iterable<string>, keySpace: boolean): string[] {
    const list = [...keys]
    for (const key of list) this.#read.add(key)
    if (keySpace) this.keySpace = true
    return this.#store.changedSince(base, list, keySpace)
  }
}
