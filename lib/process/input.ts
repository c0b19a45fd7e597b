// map()'s input: pulled lazily from any iterable or async iterable, numbered as it arrives.
import { invalidArgument } from '../errors.ts'

export class Input {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>
  readonly #async: boolean
  // Known before the end for arrays, typed arrays, Sets and Maps.
  readonly #known: number | undefined
  // A plain array is sliced rather than iterated item by item.
  readonly #array: readonly unknown[] | undefined
  #next = 0
  #exhausted = false
  #closed = false

  constructor(items: unknown) {
    const source = items as Partial<Iterable<unknown> & AsyncIterable<unknown>> | null | undefined
    const asyncIterator = source?.[Symbol.asyncIterator]
    const iterator = source?.[Symbol.iterator]
    if (typeof asyncIterator === 'function') {
      this.#iterator = asyncIterator.call(source)
      this.#async = true
    } else if (typeof iterator === 'function') {
      this.#iterator = iterator.call(source)
      this.#async = false
    } else {
      throw invalidArgument(
        `map: items must be an iterable or an async iterable, got ${items === null ? 'null' : typeof items}`,
      )
    }
    this.#known =
      Array.isArray(items) || ArrayBuffer.isView(items)
        ? (items as { length: number }).length
        : items instanceof Set || items instanceof Map
          ? items.size
          : undefined
    this.#array = Array.isArray(items) && iterator === Array.prototype[Symbol.iterator] ? items : undefined
  }

  get exhausted(): boolean {
    return this.#exhausted
  }

  // The number of items, once known.
  get total(): number | undefined {
    return this.#exhausted ? this.#next : this.#known
  }

  // Up to n more items, numbered from `first`; fewer only at the end. One call at a time.
  async pull(n: number): Promise<{ first: number; values: unknown[] }> {
    const first = this.#next
    if (this.#array !== undefined && !this.#closed) {
      const values = this.#array.slice(first, first + n)
      this.#next += values.length
      if (values.length < n || this.#next >= this.#array.length) this.#exhausted = true
      return { first, values }
    }
    const values: unknown[] = []
    while (values.length < n && !this.#exhausted && !this.#closed) {
      const step = this.#async
        ? await this.#iterator.next()
        : (this.#iterator.next() as IteratorResult<unknown>)
      if (step.done === true) {
        this.#exhausted = true
        break
      }
      values.push(step.value)
      this.#next++
    }
    return { first, values }
  }

  // Stops early: lets the source clean up (its finally blocks run).
  close(): void {
    if (this.#exhausted || this.#closed) return
    this.#closed = true
    try {
      const done = this.#iterator.return?.()
      if (done instanceof Promise) void done.catch(() => {})
    } catch {
      // the source's own cleanup failed; the map is already ending
    }
  }
}
