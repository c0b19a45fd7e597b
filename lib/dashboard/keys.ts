// The keys the page lists, with the revision that wrote each. The replica keeps values only, so the
// revisions come from the change stream: a key not written since the dashboard joined (or since a
// resync) is known only to be at most the revision of that moment, shown as "≤ R".
import type { Change, StateReader } from '../client/state-types.ts'
import { textPrefix } from '../text-prefix.ts'

/** Keys sent to the page, at most, whatever matches the filter. */
export const MAX_KEYS = 1000
/** A value longer than this (as JSON) is cut, with an ellipsis. */
export const MAX_VALUE_CHARS = 2000

export interface KeyRow {
  readonly key: string
  /** The value as JSON text, cut at MAX_VALUE_CHARS. */
  readonly json: string
  /** The revision that wrote it, or (exact: false) a revision it was written at or before. */
  readonly revision: number
  readonly exact: boolean
}

export interface KeyList {
  readonly prefix: string
  readonly revision: number
  /** Keys matching the prefix; only the first MAX_KEYS (sorted) are in `rows`. */
  readonly total: number
  readonly rows: readonly KeyRow[]
}

// Key lists kept at one revision (one per filter in use).
const MAX_CACHED = 32

export type Encode = (value: unknown) => unknown

export class KeyIndex {
  readonly #state: StateReader<Record<string, unknown>>
  readonly #encode: Encode
  readonly #revisions = new Map<string, number>()
  #joined: number
  // Lists by prefix at one revision: every page with the same filter shares one.
  #cache = new Map<string, KeyList>()
  #cachedAt = -1

  constructor(state: StateReader<Record<string, unknown>>, encode: Encode) {
    this.#state = state
    this.#encode = encode
    this.#joined = state.revision
  }

  /** The revision below which per-key revisions are unknown. */
  get joined(): number {
    return this.#joined
  }

  // Forgets what the change stream said: after a resync, changes may have been skipped.
  reset(): void {
    this.#revisions.clear()
    this.#joined = this.#state.revision
  }

  record(change: Change): void {
    if (change.deleted) this.#revisions.delete(change.key)
    else this.#revisions.set(change.key, change.revision)
  }

  list(prefix: string): KeyList {
    const revision = this.#state.revision
    // A new revision, or more filters than pages could ask for: start over.
    if (revision !== this.#cachedAt || this.#cache.size >= MAX_CACHED) {
      this.#cache = new Map()
      this.#cachedAt = revision
    }
    let list = this.#cache.get(prefix)
    if (list === undefined) {
      const matching = [...this.#state.keys()].filter((key) => key.startsWith(prefix)).sort()
      const rows = matching.slice(0, MAX_KEYS).map((key) => this.row(key))
      list = { prefix, revision, total: matching.length, rows }
      this.#cache.set(prefix, list)
    }
    return list
  }

  row(key: string): KeyRow {
    const written = this.#revisions.get(key)
    return {
      key,
      json: this.json(this.#state.get(key)),
      revision: written ?? this.#joined,
      exact: written !== undefined,
    }
  }

  json(value: unknown): string {
    const text = JSON.stringify(this.#encode(value)) ?? 'null'
    if (text.length <= MAX_VALUE_CHARS) return text
    return `${textPrefix(text, MAX_VALUE_CHARS)}…`
  }
}
