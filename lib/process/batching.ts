// How many items map() sends a worker at once: enough that a batch runs for about TARGET_MS, so
// per-message overhead stays small for tiny items, one at a time for heavy ones, and never more
// than about MAX_BATCH_BYTES on the wire, either way: items to the worker, results back.
import { serialize } from 'node:v8'

// Batches in flight per worker (small items only): one running, one waiting, so a worker never idles
// for a round trip.
export const CREDIT = 2
const TARGET_MS = 20
// A batch's arrays and buffers (its slice of the input, packed, serialized, and the same for its
// results) stay under V8's large-object size, about 128 KiB: larger ones are fresh pages every time,
// and first touching them costs more than the copy (on a 2-vCPU VM, copying 8 MB in 64 K-item
// arrays took 25 ms, in 4 K-item ones 0.5 ms). 100,000 → 1,000,000 squares ran 1.1–1.4× faster with
// these limits than with 65,536 items and 1 MiB (one-off probes, 4 runs each).
const MAX_BATCH = 12_288
const MAX_BATCH_BYTES = 96 << 10
// From one item, a batch grows at most this much per measurement (the first ones are noisy).
const GROWTH = 8

// How much the measurements so far count against a new one: the estimate follows a change of pace
// within a few batches.
const DECAY = 0.7

export class BatchSizer {
  // Time and items of the batches measured, each decayed by DECAY per later batch: their ratio is the
  // time per item, weighted by items, so that the first tiny batches (whose items ran cold, before
  // V8 compiled the target) stop counting once larger ones are in.
  #ms = 0
  #items = 0
  #bytesPerItem = 1
  #bytesPerResult = 1
  #largest = 1

  // The next batch's size; with `remaining` known, the tail is spread over every worker.
  size(remaining: number | undefined, workers: number): number {
    let size = 1
    const msPerItem = this.#msPerItem
    if (msPerItem !== undefined) {
      const ideal = Math.round(TARGET_MS / Math.max(msPerItem, 1e-6))
      const fits = Math.floor(MAX_BATCH_BYTES / Math.max(this.#bytesPerItem, this.#bytesPerResult))
      size = Math.max(1, Math.min(ideal, fits, MAX_BATCH, this.#largest * GROWTH))
    }
    if (remaining !== undefined) size = Math.min(size, Math.max(1, Math.ceil(remaining / (workers * CREDIT))))
    return size
  }

  // Items measured, and each well under a batch's worth of time.
  get small(): boolean {
    const msPerItem = this.#msPerItem
    return msPerItem !== undefined && msPerItem < TARGET_MS / 4
  }

  get #msPerItem(): number | undefined {
    return this.#items === 0 ? undefined : this.#ms / this.#items
  }

  // A worker ran `items` items in `ms`.
  record(items: number, ms: number): void {
    if (items === 0 || !(ms >= 0)) return
    this.#ms = this.#ms * DECAY + ms
    this.#items = this.#items * DECAY + items
  }

  // A batch is sent: its length counts toward the next one's growth, and its items are sampled for
  // their size on the wire (first, middle, last; the largest counts).
  weigh(values: readonly unknown[]): void {
    this.#largest = Math.max(this.#largest, values.length)
    this.#bytesPerItem = sampledBytes(values) ?? this.#bytesPerItem
  }

  get bytesPerResult(): number {
    return this.#bytesPerResult
  }

  // The same of a batch's results, as they came back (numbers packed: 8 bytes each).
  weighResults(values: readonly unknown[] | Float64Array): void {
    this.#bytesPerResult = values instanceof Float64Array ? 8 : (sampledBytes(values) ?? this.#bytesPerResult)
  }
}

// The largest of a few values on the wire (first, middle, last); undefined for none, or when one is
// not cloneable (the send says so).
function sampledBytes(values: readonly unknown[]): number | undefined {
  if (values.length === 0) return undefined
  let bytes = 0
  for (const at of new Set([0, values.length >> 1, values.length - 1])) {
    try {
      bytes = Math.max(bytes, serialize(values[at]).length)
    } catch {
      return undefined
    }
  }
  return Math.max(1, bytes)
}
