// Old values of the keys the replica changed, kept for the views of older revisions that are still
// open (transactions, snapshots). One log serves every view, so a change costs O(1) however many
// views are open; values that no open view can read any more are dropped in batches.
import { decoded } from '../protocol/undecoded.ts'

// What a key held just before `revision` first changed it.
interface Saved {
  readonly revision: number
  readonly present: boolean
  readonly value: unknown
}

// Fewest saved values worth a compaction; after one, the next waits until the count doubles or
// half as many views have closed: O(1) amortised per change and per close.
const MIN_COMPACT = 1_024

export class UndoLog {
  #data: ReadonlyMap<string, unknown>
  // Per key, oldest first: a view at revision R reads the first value saved by a revision after R.
  readonly #saved = new Map<string, Saved[]>()
  // Open views per revision, in revision order (revisions only grow while the log is current).
  readonly #open = new Map<number, number>()
  #newest = -1
  #count = 0
  // When to compact: saved values past #limit, or closed views past half the saved values.
  #limit = MIN_COMPACT
  #closed = 0

  constructor(data: ReadonlyMap<string, unknown>) {
    this.#data = data
  }

  // Whether any view is open, i.e. whether old values must be kept at all.
  get viewing(): boolean {
    return this.#open.size > 0
  }

  // How many old values are kept (for specs).
  get saved(): number {
    return this.#count
  }

  // How many views are open (for specs).
  get views(): number {
    let n = 0
    for (const count of this.#open.values()) n += count
    return n
  }

  open(revision: number): void {
    this.#open.set(revision, (this.#open.get(revision) ?? 0) + 1)
    if (revision > this.#newest) this.#newest = revision
  }

  close(revision: number): void {
    const count = this.#open.get(revision)
    if (count === undefined) return
    if (count > 1) return void this.#open.set(revision, count - 1)
    this.#open.delete(revision)
    if (this.#open.size === 0) {
      this.#saved.clear()
      this.#count = 0
      this.#limit = MIN_COMPACT
      this.#closed = 0
      this.#newest = -1
    } else if (++this.#closed * 2 > this.#count && this.#count > MIN_COMPACT) this.#compact()
  }

  // Called by the replica before commit `revision` changes `key`.
  save(key: string, revision: number): void {
    if (this.#open.size === 0) return
    let list = this.#saved.get(key)
    if (list === undefined) this.#saved.set(key, (list = []))
    // Saved after the newest view opened: every open view reads that one or an older one.
    else if (list[list.length - 1]!.revision > this.#newest) return
    list.push({ revision, present: this.#data.has(key), value: this.#data.get(key) })
    if (++this.#count > this.#limit) this.#compact()
  }

  // The replica is about to replace every key (a clear, a resync): the open views keep `copy`, the
  // data as it is now, and the replica starts a new log.
  detach(copy: ReadonlyMap<string, unknown>): void {
    this.#data = copy
  }

  get(key: string, revision: number): unknown {
    const saved = this.#find(key, revision)
    return decoded(saved === undefined ? this.#data.get(key) : saved.value)
  }

  has(key: string, revision: number): boolean {
    const saved = this.#find(key, revision)
    return saved === undefined ? this.#data.has(key) : saved.present
  }

  *keys(revision: number): Generator<string, undefined, undefined> {
    for (const key of this.#data.keys()) if (this.#find(key, revision)?.present !== false) yield key
    for (const key of this.#saved.keys())
      if (!this.#data.has(key) && this.#find(key, revision)?.present === true) yield key
    return undefined
  }

  #find(key: string, revision: number): Saved | undefined {
    const list = this.#saved.get(key)
    if (list === undefined) return undefined
    return list[firstAbove(list, revision, (saved) => saved.revision)]
  }

  // Drops every value no open view reads: a view at R reads the first value saved after R.
  #compact(): void {
    const open = [...this.#open.keys()]
    const read = (after: number, upTo: number): boolean => {
      const i = firstAbove(open, after - 1, (revision) => revision)
      return i < open.length && open[i]! < upTo
    }
    let kept = 0
    for (const [key, list] of this.#saved) {
      const keep = list.filter((saved, i) =>
        read(i === 0 ? -Infinity : list[i - 1]!.revision, saved.revision),
      )
      if (keep.length === 0) this.#saved.delete(key)
      else this.#saved.set(key, keep)
      kept += keep.length
    }
    this.#count = kept
    this.#limit = Math.max(MIN_COMPACT, 2 * kept)
    this.#closed = 0
  }
}

// The index of the first item of ascending `list` whose revision is above `revision` (binary search).
function firstAbove<T>(list: readonly T[], revision: number, of: (item: T) => number): number {
  let low = 0
  let high = list.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (of(list[mid]!) > revision) high = mid
    else low = mid + 1
  }
  return low
}
