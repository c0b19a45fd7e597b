// The fan-out benchmark (benchmarks/fan-out.ts): what one watcher process saw of a burst of changes
// numbered first..first+count-1, sent by one writer in that order.

export interface TallyReport {
  readonly received: number // changes of this burst that arrived, duplicates included
  readonly inOrder: number // those that arrived after every lower-numbered one seen so far
  readonly lastUs: number // when the last one arrived (machine-wide monotonic clock; 0: none did)
  readonly error: string | undefined // why the watcher stopped early (zstate: the watch threw)
}

export class Tally {
  readonly first: number
  readonly last: number
  readonly done: Promise<void>
  #finish: () => void = () => {}
  #highest: number
  #received = 0
  #inOrder = 0
  #lastUs = 0
  #error: string | undefined

  constructor(first: number, count: number) {
    this.first = first
    this.last = first + count - 1
    this.#highest = first - 1
    this.done = new Promise<void>((resolve) => (this.#finish = resolve))
  }

  // Change `id` arrived at `atUs`; numbers outside this burst are ignored. A change counts as in order
  // when it is newer than everything seen before it, so a gap loses only the missing changes.
  see(id: number, atUs: number): void {
    if (id < this.first || id > this.last) return
    this.#received++
    this.#lastUs = atUs
    if (id > this.#highest) {
      this.#inOrder++
      this.#highest = id
    }
    if (id === this.last) this.#finish()
  }

  fail(error: unknown): void {
    this.#error ??= error instanceof Error ? error.message : String(error)
    this.#finish()
  }

  // Ends the wait on `done` (the raw stream's end marker, or a timeout).
  finish(): void {
    this.#finish()
  }

  report(): TallyReport {
    return { received: this.#received, inOrder: this.#inOrder, lastUs: this.#lastUs, error: this.#error }
  }
}

// The key and value of change i, the same for zstate and the raw publisher: 1,000 keys in rotation,
// ~107-byte values (benchmarks/support/values.ts) whose `id` numbers the change.
export function fanoutKey(i: number): string {
  return `fan:${i % 1_000}`
}
