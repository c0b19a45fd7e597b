// The key/value store and its revision counter: the only writer of state. It also remembers when
// each key last changed (deleted keys too, for as long as the history reaches back), which is
// what transactions are validated against.
import { randomBytes } from 'node:crypto'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { applyWirePatches, type WirePatch } from '../protocol/patches.ts'

export class Store {
  readonly epoch: string = randomBytes(8).toString('hex')
  #revision = 0
  readonly #data = new Map<string, unknown>()
  readonly #modified = new Map<string, number>()
  readonly #tombstones = new Map<string, number>()
  // Deletions at or before this revision are forgotten: nothing is known about them.
  #horizon = 0
  // The last revision that created or deleted a key.
  #keySpaceChanged = 0

  get revision(): number {
    return this.#revision
  }
  get size(): number {
    return this.#data.size
  }
  get(key: string): unknown {
    return this.#data.get(key)
  }
  has(key: string): boolean {
    return this.#data.has(key)
  }
  entries(): IterableIterator<[string, unknown]> {
    return this.#data.entries()
  }
  keys(): IterableIterator<string> {
    return this.#data.keys()
  }

  // The value a patch change leads to; throws (ERR_INVALID_ARGUMENT) when the patches do not apply.
  patched(key: string, patches: readonly WirePatch[]): unknown {
    return applyWirePatches(this.#data.get(key), patches)
  }

  // Applies one commit's changes and gives it the next revision. `patched` holds the results of
  // PATCH changes, computed (and so validated) before anything was applied.
  commit(changes: readonly WireChange[], patched?: ReadonlyMap<string, unknown>): number {
    const revision = ++this.#revision
    for (const change of changes) {
      const key = change[0]
      switch (change[1]) {
        case ChangeKind.SET:
          this.#write(key!, change[2], revision)
          break
        case ChangeKind.PATCH:
          this.#write(key!, patched!.get(key!), revision)
          break
        case ChangeKind.DELETE:
          this.#delete(key!, revision)
          break
        case ChangeKind.CLEAR:
          for (const k of [...this.#data.keys()]) this.#delete(k, revision)
          break
      }
    }
    return revision
  }

  #write(key: string, value: unknown, revision: number): void {
    if (!this.#data.has(key)) {
      this.#keySpaceChanged = revision
      this.#tombstones.delete(key)
    }
    this.#data.set(key, value)
    this.#modified.set(key, revision)
  }

  #delete(key: string, revision: number): void {
    if (!this.#data.delete(key)) return
    this.#modified.delete(key)
    this.#tombstones.set(key, revision)
    this.#keySpaceChanged = revision
  }

  // Keys that changed after `base`; a key whose history is forgotten counts as changed.
  changedSince(base: number, keys: Iterable<string>, keySpace: boolean): string[] {
    const changed: string[] = []
    for (const key of keys) {
      const revision =
        this.#modified.get(key) ?? this.#tombstones.get(key) ?? (base < this.#horizon ? Infinity : 0)
      if (revision > base) changed.push(key)
    }
    if (keySpace && this.#keySpaceChanged > base && changed.length === 0) changed.push('*')
    return changed
  }

  // Forgets deletions at or before `revision` (the history no longer reaches them).
  forgetBefore(revision: number): void {
    if (revision <= this.#horizon) return
    this.#horizon = revision
    for (const [key, deleted] of this.#tombstones) if (deleted <= revision) this.#tombstones.delete(key)
  }
}
