// The bounded ring of recent commits (encoded once), for gap repair and watch({ fromRevision }).
import { ErrorCode, ZStateError } from '../errors.ts'

export interface HistoryLimits {
  revisions: number
  bytes: number
}

// One encoded commit. Its bytes may be shared (the store keeps the values it set in them): the
// history tells it when it lets them go.
export interface HistoryEntry {
  readonly bytes: Buffer
  retire(): void
}

export class History {
  readonly #limits: HistoryLimits
  #items: (HistoryEntry | undefined)[] = []
  #head = 0 // index of the oldest kept item in #items
  #first = 1 // revision of the oldest kept item
  #bytes = 0

  // `next`: the revision of the first commit it will be given (after a restart, the store's + 1).
  constructor(limits: HistoryLimits, next = 1) {
    this.#limits = limits
    this.#first = next
  }

  get firstRevision(): number {
    return this.#first
  }
  get bytes(): number {
    return this.#bytes
  }
  get length(): number {
    return this.#items.length - this.#head
  }

  // Appends the next revision's encoded commit and evicts what no longer fits.
  push(entry: HistoryEntry): void {
    this.#items.push(entry)
    this.#bytes += entry.bytes.length
    while (this.length > 0 && (this.length > this.#limits.revisions || this.#bytes > this.#limits.bytes)) {
      const evicted = this.#items[this.#head]!
      this.#items[this.#head++] = undefined
      this.#bytes -= evicted.bytes.length
      this.#first++
      evicted.retire()
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
  }

  // Commits from..to inclusive, stopping early once maxBytes is reached (at least one is returned).
  page(from: number, to: number, maxBytes: number): { items: Buffer[]; bytes: number } {
    if (from < this.#first) {
      throw new ZStateError(
        ErrorCode.COMPACTED,
        `revision ${from} is no longer in the server's history (oldest: ${this.#first})`,
      )
    }
    const items: Buffer[] = []
    let bytes = 0
    const last = Math.min(to, this.#first + this.length - 1)
    for (let revision = from; revision <= last; revision++) {
      const item = this.#items[this.#head + revision - this.#first]!.bytes
      if (items.length > 0 && bytes + item.length > maxBytes) break
      items.push(item)
      bytes += item.length
    }
    return { items, bytes }
  }
}
