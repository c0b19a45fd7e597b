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
  // Each item's revision: consecutive on the server's own store, increasing on an etcd gateway's.
  #revisions: number[] = []
  #head = 0 // index of the oldest kept item in #items
  // The revision before the oldest kept item: history knows every commit after it.
  #floor = 0
  #bytes = 0

  // `next`: the revision of the first commit it will be given (after a restart, the store's + 1).
  constructor(limits: HistoryLimits, next = 1) {
    this.#limits = limits
    this.#floor = next - 1
  }

  // The oldest revision it can answer from.
  get firstRevision(): number {
    return this.#floor + 1
  }
  get bytes(): number {
    return this.#bytes
  }
  get length(): number {
    return this.#items.length - this.#head
  }

  // Appends the encoded commit of `revision` (after every one it holds) and evicts what no longer fits.
  push(entry: HistoryEntry, revision: number): void {
    this.#items.push(entry)
    this.#revisions.push(revision)
    this.#bytes += entry.bytes.length
    while (this.length > 0 && (this.length > this.#limits.revisions || this.#bytes > this.#limits.bytes)) {
      const evicted = this.#items[this.#head]!
      this.#items[this.#head] = undefined
      this.#floor = this.#revisions[this.#head++]!
      this.#bytes -= evicted.bytes.length
      evicted.retire()
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#revisions = this.#revisions.slice(this.#head)
      this.#head = 0
    }
  }

  // Commits from..to inclusive, stopping early once maxBytes is reached (at least one is returned).
  // `last`: the revision of the last item, from - 1 when there is none.
  page(from: number, to: number, maxBytes: number): { items: Buffer[]; bytes: number; last: number } {
    if (from <= this.#floor) {
      throw new ZStateError(
        ErrorCode.COMPACTED,
        `revision ${from} is no longer in the server's history (oldest: ${this.firstRevision})`,
      )
    }
    const items: Buffer[] = []
    let bytes = 0
    let last = from - 1
    const revisions = this.#revisions
    for (let i = this.#firstAtOrAfter(from); i < revisions.length && revisions[i]! <= to; i++) {
      const item = this.#items[i]!.bytes
      if (items.length > 0 && bytes + item.length > maxBytes) break
      items.push(item)
      bytes += item.length
      last = revisions[i]!
    }
    return { items, bytes, last }
  }

  // The index of the first kept item whose revision is `revision` or later.
  #firstAtOrAfter(revision: number): number {
    let low = this.#head
    let high = this.#revisions.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#revisions[middle]! < revision) low = middle + 1
      else high = middle
    }
    return low
  }
}
