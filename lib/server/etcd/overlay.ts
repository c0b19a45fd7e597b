// The replica as one write of a session's batch sees it (lib/server/etcd/writes.ts): the writes
// before it in the batch, which are not in etcd yet, laid over the replica. What is read through to
// the replica is recorded by the ReadSet beneath; what the batch itself wrote is not a read of etcd.
import type { Shape } from '../../protocol/codec.ts'
import { applyWirePatches, type WirePatch } from '../../protocol/patches.ts'
import { ChangeKind, type WireChange } from '../../protocol/ops.ts'
import type { Store, StoreView } from '../store.ts'
import type { ReadSet } from './read-set.ts'

const GONE = Symbol('deleted')
type Staged = { readonly value: unknown } | typeof GONE

export class Overlay implements StoreView {
  readonly #reads: ReadSet
  // Only to tell which staged keys the replica holds, without counting that as a read.
  readonly #store: Store
  readonly #staged = new Map<string, Staged>()

  constructor(reads: ReadSet, store: Store) {
    this.#reads = reads
    this.#store = store
  }

  // A write of the batch was worked out: the next ones see its changes.
  stage(changes: readonly WireChange[], patched: ReadonlyMap<string, unknown> | undefined): void {
    for (const change of changes) {
      const key = change[0]!
      if (change[1] === ChangeKind.SET) this.#staged.set(key, { value: change[2] })
      else if (change[1] === ChangeKind.PATCH) this.#staged.set(key, { value: patched!.get(key) })
      else if (change[1] === ChangeKind.DELETE) this.#staged.set(key, GONE)
    }
  }

  get epoch(): string {
    return this.#reads.epoch
  }
  get revision(): number {
    return this.#reads.revision
  }
  get size(): number {
    let size = this.#reads.size
    for (const [key, staged] of this.#staged) {
      const held = this.#store.has(key)
      if (staged === GONE && held) size--
      else if (staged !== GONE && !held) size++
    }
    return size
  }
  get(key: string): unknown {
    const staged = this.#staged.get(key)
    if (staged === undefined) return this.#reads.get(key)
    return staged === GONE ? undefined : staged.value
  }
  // A staged value is decoded already: get() costs nothing.
  shape(key: string): Shape | undefined {
    return this.#staged.has(key) ? undefined : this.#reads.shape(key)
  }
  has(key: string): boolean {
    const staged = this.#staged.get(key)
    return staged === undefined ? this.#reads.has(key) : staged !== GONE
  }
  *keys(): IterableIterator<string> {
    for (const key of this.#reads.keys()) if (this.#staged.get(key) !== GONE) yield key
    for (const [key, staged] of this.#staged) if (staged !== GONE && !this.#store.has(key)) yield key
  }
  patched(key: string, patches: readonly WirePatch[]): unknown {
    const staged = this.#staged.get(key)
    if (staged === undefined) return this.#reads.patched(key, patches)
    return applyWirePatches(staged === GONE ? undefined : staged.value, patches)
  }
  // What the batch wrote changed after any base a transaction in it was worked out on.
  changedSince(base: number, keys: Iterable<string>, keySpace: boolean): string[] {
    const unstaged: string[] = []
    const changed: string[] = []
    for (const key of keys) (this.#staged.has(key) ? changed : unstaged).push(key)
    if (keySpace && changed.length === 0 && this.#changesKeySpace()) changed.push('*')
    return changed.concat(this.#reads.changedSince(base, unstaged, keySpace && changed.length === 0))
  }

  #changesKeySpace(): boolean {
    for (const [key, staged] of this.#staged) if ((staged === GONE) === this.#store.has(key)) return true
    return false
  }
}
