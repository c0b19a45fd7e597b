// The local copy of the store: a Map at one revision, changed only by applying commits in order.
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { applyWirePatches } from '../protocol/patches.ts'
import { BaseView } from './base-view.ts'
import type { Change } from './state-types.ts'

export type { Change } from './state-types.ts'

export class Replica {
  readonly data = new Map<string, unknown>()
  epoch = ''
  revision = 0
  #snapshot: Readonly<Record<string, unknown>> | undefined
  readonly #views = new Set<BaseView>()

  // A view of the replica frozen at its current revision (for transactions); close it when done.
  openView(): BaseView {
    const view = new BaseView(this.data, this.epoch, this.revision, (v) => this.#views.delete(v))
    this.#views.add(view)
    return view
  }

  #preserve(key: string | null): void {
    for (const view of this.#views) {
      if (key !== null) view.preserve(key)
      else for (const k of this.data.keys()) view.preserve(k)
    }
  }

  // Applies the next commit; returns its changes when `describe` is set (someone is watching).
  apply(revision: number, changes: readonly WireChange[], describe: boolean): Change[] {
    const out: Change[] = []
    for (const change of changes) {
      const key = change[0]
      if (this.#views.size > 0) this.#preserve(key)
      switch (change[1]) {
        case ChangeKind.SET:
          if (describe)
            out.push({ key: key!, value: change[2], previous: this.data.get(key!), deleted: false, revision })
          this.data.set(key!, change[2])
          break
        case ChangeKind.DELETE:
          if (describe)
            out.push({ key: key!, value: undefined, previous: this.data.get(key!), deleted: true, revision })
          this.data.delete(key!)
          break
        case ChangeKind.CLEAR:
          if (describe)
            for (const [k, v] of this.data)
              out.push({ key: k, value: undefined, previous: v, deleted: true, revision })
          this.data.clear()
          break
        case ChangeKind.PATCH: {
          const previous = this.data.get(key!)
          const value = applyWirePatches(previous, change[2])
          if (describe) out.push({ key: key!, value, previous, deleted: false, revision })
          this.data.set(key!, value)
          break
        }
      }
    }
    this.revision = revision
    this.#snapshot = undefined
    return out
  }

  // Replaces everything with a snapshot; returns the differences as changes (for listeners).
  reset(
    epoch: string,
    revision: number,
    entries: Iterable<readonly [string, unknown]>,
    same: (a: unknown, b: unknown) => boolean,
  ): Change[] {
    for (const view of this.#views) view.broken = true
    const before = new Map(this.data)
    this.data.clear()
    for (const [key, value] of entries) this.data.set(key, value)
    const out: Change[] = []
    for (const [key, value] of this.data) {
      const previous = before.get(key)
      if (!before.has(key) || !same(previous, value))
        out.push({ key, value, previous, deleted: false, revision })
    }
    for (const [key, previous] of before) {
      if (!this.data.has(key)) out.push({ key, value: undefined, previous, deleted: true, revision })
    }
    this.epoch = epoch
    this.revision = revision
    this.#snapshot = undefined
    return out
  }

  // A frozen plain object of every entry, built at most once per revision.
  snapshot(): Readonly<Record<string, unknown>> {
    if (this.#snapshot === undefined) this.#snapshot = Object.freeze(Object.fromEntries(this.data))
    return this.#snapshot
  }
}
