// The replica as it was at one revision, for a transaction whose function awaits while newer
// commits arrive: the replica saves a key's old value here before it first changes it.
import type { DraftSource } from '../protocol/draft.ts'

interface Saved {
  present: boolean
  value: unknown
}

export class BaseView implements DraftSource {
  readonly revision: number
  readonly epoch: string
  // Set when the replica was rebuilt from a snapshot: the base is gone, the transaction retries.
  broken = false
  readonly #data: ReadonlyMap<string, unknown>
  readonly #saved = new Map<string, Saved>()
  readonly #close: (view: BaseView) => void

  constructor(
    data: ReadonlyMap<string, unknown>,
    epoch: string,
    revision: number,
    close: (view: BaseView) => void,
  ) {
    this.#data = data
    this.epoch = epoch
    this.revision = revision
    this.#close = close
  }

  // Called by the replica before it changes `key`; only the first (oldest) value is kept.
  preserve(key: string): void {
    if (this.#saved.has(key)) return
    this.#saved.set(key, { present: this.#data.has(key), value: this.#data.get(key) })
  }

  get(key: string): unknown {
    const saved = this.#saved.get(key)
    return saved === undefined ? this.#data.get(key) : saved.value
  }

  has(key: string): boolean {
    const saved = this.#saved.get(key)
    return saved === undefined ? this.#data.has(key) : saved.present
  }

  *keys(): Generator<string> {
    for (const key of this.#data.keys()) if (this.#saved.get(key)?.present !== false) yield key
    for (const [key, saved] of this.#saved) if (saved.present && !this.#data.has(key)) yield key
  }

  close(): void {
    this.#close(this)
  }
}
