// map()'s input: pulled lazily from any iterable or async iterable, numbered as it arrives. A sync
// source hands items over when asked; an async one is read in the background, and what it made is
// handed over as soon as it stops making more within a turn of the event loop: a slow or endless
// producer's items go to the workers without waiting to fill a batch (and a producer that waits for
// their results is not stuck).
import { invalidArgument } from '../errors.ts'

// Where the items go, in runs of consecutive indices from `first`.
export interface InputSink {
  add(first: number, values: readonly unknown[]): void
  // An async source handed a run over, or stalled, or ended: there may be something to do.
  changed(): void
  failed(error: unknown): void
}

export class Input {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>
  readonly #async: boolean
  // Known before the end for arrays, typed arrays, Sets and Maps.
  readonly #known: number | undefined
  // A plain array is sliced rather than iterated item by item.
  readonly #array: readonly unknown[] | undefined
  #sink: InputSink | undefined
  #next = 0
  #exhausted = false
  #closed = false
  // Items an async source was asked for and has not handed over yet.
  #wanted = 0
  #reading = false
  #stalled = false
  // The items of the current read made within a turn, numbered from #runFirst.
  #run: unknown[] = []
  #runFirst = 0

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

  // Where pulled items go; set once, before the first pull.
  set sink(sink: InputSink) {
    this.#sink = sink
  }

  get exhausted(): boolean {
    return this.#exhausted
  }

  // The number of items, once known.
  get total(): number | undefined {
    return this.#exhausted ? this.#next : this.#known
  }

  // Items asked for are on their way: an async source is making them, and has not stalled.
  get coming(): boolean {
    return this.#reading && !this.#stalled
  }

  // Up to n more items: a sync source's are added before this returns (fewer only at its end), an
  // async source's as it makes them. Asking again while they come asks for no more than the larger.
  pull(n: number): void {
    if (this.#exhausted || this.#closed || n <= 0) return
    if (this.#async) {
      this.#wanted = Math.max(this.#wanted, n)
      if (!this.#reading) void this.#read()
      return
    }
    const first = this.#next
    let values: unknown[]
    if (this.#array !== undefined) {
      values = this.#array.slice(first, first + n)
      this.#next += values.length
      if (this.#next >= this.#array.length) this.#exhausted = true
    } else {
      values = []
      while (values.length < n) {
        const step = checked(this.#iterator.next())
        if (step.done === true) {
          this.#exhausted = true
          break
        }
        values.push(step.value)
        this.#next++
      }
    }
    this.#sink!.add(first, values)
  }

  // Reads until the items wanted are in. What the producer makes within a turn of the event loop is
  // a run, handed over at the end of the read, or when the turn passes with the producer still at
  // work (a stall: the next run starts with its next item). The flags are cleared before the last
  // hand-over, which may ask for more (and so start the next read).
  async #read(): Promise<void> {
    this.#reading = true
    this.#startRun()
    try {
      while (this.#wanted > 0 && !this.#closed) {
        const step = checked(await this.#iterator.next())
        if (this.#stalled) {
          this.#stalled = false
          this.#startRun()
        }
        if (step.done === true) {
          this.#exhausted = true
          break
        }
        this.#run.push(step.value)
        this.#next++
        this.#wanted--
      }
    } catch (error) {
      this.#reading = this.#stalled = false
      return this.#sink!.failed(error)
    }
    this.#reading = false
    this.#handOver()
  }

  #startRun(): void {
    const run: unknown[] = []
    this.#run = run
    this.#runFirst = this.#next
    setImmediate(() => {
      if (this.#run !== run || !this.#reading) return
      this.#stalled = true
      this.#handOver()
    })
  }

  #handOver(): void {
    const run = this.#run
    this.#run = []
    if (this.#closed) return
    this.#sink!.add(this.#runFirst, run)
    this.#sink!.changed()
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

// What for…of and for await require of an iterator's next(): a producer that returns anything else
// fails the map, rather than making an item of undefined of every call, endlessly.
function checked(step: unknown): IteratorResult<unknown> {
  if (typeof step !== 'object' || step === null)
    throw new TypeError(`map: the input's iterator result ${String(step)} is not an object`)
  return step as IteratorResult<unknown>
}
