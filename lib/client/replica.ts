// The local copy of the store: a Map at one revision, changed only by applying commits in order. A
// value may be held Undecoded (lib/protocol/undecoded.ts): whatever reads `data` reads through decoded().
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { applyWirePatches } from '../protocol/patches.ts'
import { decoded } from '../protocol/undecoded.ts'
import { BaseView } from './base-view.ts'
import { snapshotOf, type Snapshot } from './snapshot-view.ts'
import type { Change } from './state-types.ts'
import { UndoLog } from './undo-log.ts'

export type { Change } from './state-types.ts'

// What apply() returns when no one is watching (frozen: nothing may ever be pushed to it).
const NOTHING_DESCRIBED: Change[] = Object.freeze([]) as unknown as Change[]

export class Replica {
  readonly data = new Map<string, unknown>()
  epoch = ''
  revision = 0
  // Old values for open views; replaced (the old one kept by its views) when every key is replaced.
  #log = new UndoLog(this.data)
  readonly #resyncs = { count: 0 }
  // This revision's snapshots by prefix, held weakly: one per prefix while someone holds it.
  readonly #snapshots = new Map<string, WeakRef<Snapshot>>()

  // A view of the replica frozen at its current revision (for transactions); close it when done.
  openView(): BaseView {
    return new BaseView(this.#log, this.epoch, this.revision, this.#resyncs)
  }

  // The keys under `prefix` at this revision as a read-only object, O(1) to create
  // (lib/client/snapshot-view.ts); it closes its view itself once collected.
  snapshot(prefix = ''): Snapshot {
    let snapshot = this.#snapshots.get(prefix)?.deref()
    if (snapshot === undefined) {
      snapshot = snapshotOf(this.openView(), prefix)
      this.#snapshots.set(prefix, new WeakRef(snapshot))
    }
    return snapshot
  }

  // How many views are open and how many old values they keep (for specs).
  get retained(): { views: number; saved: number } {
    return { views: this.#log.views, saved: this.#log.saved }
  }

  // Every key is about to be replaced: open views keep `copy` (the data as it is now).
  #detach(copy: () => ReadonlyMap<string, unknown>): void {
    if (!this.#log.viewing) return
    this.#log.detach(copy())
    this.#log = new UndoLog(this.data)
  }

  // Applies the next commit; returns its changes when `describe` is given (someone is watching), the
  // values of a key decoded where `describe` says someone reads them (lib/client/observers.ts).
  apply(
    revision: number,
    changes: readonly WireChange[],
    describe: ((key: string) => boolean) | undefined,
  ): Change[] {
    const out: Change[] = describe !== undefined ? [] : NOTHING_DESCRIBED
    for (const change of changes) {
      const key = change[0]
      if (key !== null) this.#log.save(key, revision)
      switch (change[1]) {
        case ChangeKind.SET: {
          // Read now if someone reads it; otherwise it stays as it came until it is read.
          const valued = describe?.(key!) === true
          const value = shown(change[2], valued)
          if (describe !== undefined)
            out.push({
              key: key!,
              value,
              previous: shown(this.data.get(key!), valued),
              deleted: false,
              revision,
            })
          this.data.set(key!, value)
          break
        }
        case ChangeKind.DELETE:
          if (describe !== undefined)
            out.push({
              key: key!,
              value: undefined,
              previous: shown(this.data.get(key!), describe(key!)),
              deleted: true,
              revision,
            })
          this.data.delete(key!)
          break
        case ChangeKind.CLEAR:
          if (describe !== undefined)
            for (const [k, v] of this.data)
              out.push({
                key: k,
                value: undefined,
                previous: shown(v, describe(k)),
                deleted: true,
                revision,
              })
          this.#detach(() => new Map(this.data))
          this.data.clear()
          break
        case ChangeKind.PATCH: {
          const previous = decoded(this.data.get(key!))
          const value = applyWirePatches(previous, change[2])
          if (describe !== undefined) out.push({ key: key!, value, previous, deleted: false, revision })
          this.data.set(key!, value)
          break
        }
      }
    }
    this.revision = revision
    if (this.#snapshots.size > 0) this.#snapshots.clear()
    return out
  }

  // Replaces everything with a snapshot; returns the differences as changes (for listeners). `same`
  // compares a value the replica held (perhaps Undecoded) with the snapshot's.
  reset(
    epoch: string,
    revision: number,
    entries: Iterable<readonly [string, unknown]>,
    same: (a: unknown, b: unknown) => boolean,
  ): Change[] {
    this.#resyncs.count++
    const before = new Map(this.data)
    this.#detach(() => before)
    this.data.clear()
    for (const [key, value] of entries) this.data.set(key, value)
    const out: Change[] = []
    for (const [key, value] of this.data) {
      if (!before.has(key)) out.push({ key, value, previous: undefined, deleted: false, revision })
      else {
        const held = before.get(key)
        if (!same(held, value)) out.push({ key, value, previous: decoded(held), deleted: false, revision })
      }
    }
    for (const [key, previous] of before) {
      if (!this.data.has(key))
        out.push({ key, value: undefined, previous: decoded(previous), deleted: true, revision })
    }
    this.epoch = epoch
    this.revision = revision
    if (this.#snapshots.size > 0) this.#snapshots.clear()
    return out
  }
}

// A value as the replica holds it, decoded when someone reads it (`valued`).
function shown(held: unknown, valued: boolean): unknown {
  return valued ? decoded(held) : held
}
