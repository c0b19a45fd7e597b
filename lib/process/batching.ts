// How many items map() sends a worker at once: enough that a batch runs for about TARGET_MS, so
// per-message overhead stays small for tiny items, and one at a time for heavy ones.

// Batches in flight per worker (small items only): one running, one waiting, so a worker never idles
// for a round trip.
export const CREDIT = 2
const TARGET_MS = 20
const MAX_BATCH = 4096
// From one item, a batch grows at most this much per measurement (the first ones are noisy).
const GROWTH = 8

export class BatchSizer {
  #msPerItem: number | undefined
  #largest = 1

  // The next batch's size; with `remaining` known, the tail is spread over every worker.
  size(remaining: number | undefined, workers: number): number {
    let size = 1
    if (this.#msPerItem !== undefined) {
      const ideal = Math.round(TARGET_MS / Math.max(this.#msPerItem, 1e-6))
      size = Math.max(1, Math.min(ideal, MAX_BATCH, this.#largest * GROWTH))
    }
    if (remaining !== undefined) size = Math.min(size, Math.max(1, Math.ceil(remaining / (workers * CREDIT))))
    this.#largest = Math.max(this.#largest, size)
    return size
  }

  // Items measured, and each well under a batch's worth of time.
  get small(): boolean {
    return this.#msPerItem !== undefined && this.#msPerItem < TARGET_MS / 4
  }

  // A worker ran `items` items in `ms`.
  record(items: number, ms: number): void {
    if (items === 0 || !(ms >= 0)) return
    const perItem = ms / items
    this.#msPerItem = this.#msPerItem === undefined ? perItem : this.#msPerItem * 0.7 + perItem * 0.3
  }
}
