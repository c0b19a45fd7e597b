// mapUnordered()'s results: an async iterator fed by the map as batches come back. The map asks
// `room` before dispatching more work, and sends no batch larger, so a consumer that reads slowly holds
// the workers back rather than letting results pile up; reading wakes it again (`onRead`). A result
// is yielded once the parent's state shows what its worker had seen when it reported (as a child's
// result is, by wait()), and next() calls made before the last one settled wait their turn.
import type { Position } from '../connect.ts'
import { deferred, type Deferred } from '../deferred.ts'
import { indexAt } from './map-queue.ts'
import type { MapResult } from './types.ts'
import type { ResultSink } from './map.ts'

// Results waiting to be read beyond which the map stops dispatching items, or their bytes on the
// wire (as map's batch sizing estimates them), whichever comes first.
const HIGH_WATER = 1_000
const HIGH_WATER_BYTES = 16 << 20

export class MapStream<R> implements AsyncIterableIterator<MapResult<R>> {
  #items: MapResult<R>[] = []
  // Unread results beyond which the map holds back: HIGH_WATER, or fewer when the latest batch's
  // results were large (set with each batch, read with each result).
  #mark = HIGH_WATER
  #at = 0
  #done = 0
  #ending: { error: unknown } | undefined
  #closed = false
  #wake: Deferred<void> | undefined
  // Per batch added: where its results end in #items, and the position its worker had seen.
  #seen: { end: number; seen: Position }[] = []
  // A next() is running; the calls made meanwhile, in order.
  #reading = false
  readonly #waiting: (() => void)[] = []
  // Set by the map: more room to dispatch into, the consumer gave up (settled once its workers are
  // gone), and the wait for the parent's state to show a position.
  onRead: () => void = () => {}
  onReturn: () => Promise<void> = () => Promise.resolve()
  reached: (seen: Position) => Promise<void> = () => Promise.resolve()

  get done(): number {
    return this.#done
  }

  // Results the map may still send: always one when none is waiting, however large they are.
  get room(): number {
    const unread = this.#items.length - this.#at
    return Math.max(unread === 0 ? 1 : 0, this.#mark - unread)
  }

  // A batch's results, each about `bytesPerResult` on the wire; the positions in `failed` hold nothing
  // (their items go round again).
  add(...[batch, values, failed, bytesPerResult, seen]: Parameters<ResultSink['add']>): void {
    this.#mark = Math.min(HIGH_WATER, Math.floor(HIGH_WATER_BYTES / bytesPerResult))
    for (let i = 0; i < values.length; i++)
      if (!failed.has(i)) this.#items.push({ index: indexAt(batch, i), value: values[i] as R })
    if (seen !== undefined) this.#seen.push({ end: this.#items.length, seen })
    this.#done += values.length - failed.size
    this.#wake?.resolve()
  }

  // The map is over: `error` (after the results already held), or the end.
  end(error?: { error: unknown }): void {
    this.#ending ??= error ?? { error: undefined }
    this.#wake?.resolve()
  }

  // One call at a time: a call made while another runs waits for it (only then is anything queued).
  async next(): Promise<IteratorResult<MapResult<R>>> {
    if (this.#reading) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    this.#reading = true
    try {
      for (;;) {
        if (this.#closed) return { done: true, value: undefined }
        // The next result's batch (or one after it): the parent's state shows what its worker had seen.
        while (this.#seen.length > 0 && this.#seen[0]!.end <= this.#at) this.#seen.shift()
        const shown = this.#seen[0]
        if (shown !== undefined) {
          await this.reached(shown.seen)
          if (this.#seen[0] === shown) this.#seen.shift()
          continue
        }
        if (this.#at < this.#items.length) {
          const full = this.room === 0
          const value = this.#items[this.#at++]!
          if (this.#at === this.#items.length) this.#compact()
          if (full && this.room > 0) this.onRead()
          return { done: false, value }
        }
        if (this.#ending !== undefined) {
          this.#closed = true
          if (this.#ending.error !== undefined) throw this.#ending.error
          return { done: true, value: undefined }
        }
        this.#wake = deferred<void>()
        await this.#wake.promise
        this.#wake = undefined
      }
    } finally {
      const following = this.#waiting.shift()
      if (following === undefined) this.#reading = false
      else following()
    }
  }

  // `break` in for await: the map stops its workers, and the loop ends once they are gone, as a map
  // that settles leaves none.
  async return(): Promise<IteratorResult<MapResult<R>>> {
    if (!this.#closed) {
      this.#closed = true
      this.#items = []
      this.#seen = []
      await this.onReturn()
    }
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #compact(): void {
    this.#items = []
    this.#at = 0
    this.#seen = []
  }
}
