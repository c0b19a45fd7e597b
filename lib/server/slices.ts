// Work on many items a slice at a time, the event loop serving everyone else between slices: a
// burst of hundreds of thousands (queued calls failing at once when their last provider goes, or as
// their timeouts pass together) held the loop for most of a second in one pass (docs/security.md).
export class Slices<T> {
  readonly #perSlice: number
  readonly #each: (item: T) => void
  #items: T[] = []
  #next = 0
  #scheduled = false

  constructor(perSlice: number, each: (item: T) => void) {
    this.#perSlice = perSlice
    this.#each = each
  }

  // Works the first slice now when nothing waits (most bursts are that small), the rest later, in order.
  add(items: readonly T[]): void {
    for (const item of items) this.#items.push(item)
    if (!this.#scheduled) this.#slice()
  }

  // Drops what waits (the server is closing).
  clear(): void {
    this.#items = []
    this.#next = 0
  }

  #slice(): void {
    this.#scheduled = false
    const end = Math.min(this.#items.length, this.#next + this.#perSlice)
    while (this.#next < end) this.#each(this.#items[this.#next++]!)
    if (this.#next < this.#items.length) {
      this.#scheduled = true
      setImmediate(() => this.#slice())
    } else this.clear()
  }
}
