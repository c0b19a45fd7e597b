// The local copy of the store: a Map at one revision, changed only by applying commits in order.
import { ChangeKind, type WireChange } from '../protocol/ops.ts'

export interface Change<V = unknown> {
  key: string
  value: V | undefined
  previous: V | undefined
  deleted: boolean
  revision: number
}

export class Replica {
  readonly data = new Map<string, unknown>()
  epoch = ''
  revision = 0
  #snapshot: Readonly<Record<string, unknown>> | undefined

  // Applies the next commit; returns its changes when `describe` is set (someone is watching).
  apply(revision: number, changes: readonly WireChange[], describe: boolean): Change[] {
    const out: Change[] = []
    for (const change of changes) {
      const key = change[0]
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
        case ChangeKind.PATCH:
          throw new Error('patch changes are applied by the transaction module')
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
