// mapUnordered()'s results: an async iterator fed by the map as batches come back. The map asks
// `room` before dispatching more work, and sends no batch larger, so a consumer that reads slowly holds
// the workers back rather than letting results pile up; reading wakes it again (`onRead`).
import { deferred, type Deferred } from '../deferred.ts'
import { indexAt, type Batch } from './map-queue.ts'
import type { Packed } from './numbers.ts'
import type { MapResult } from './types.ts'

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
  // Set by the map: more room to dispatch into, and the consumer gave up (settled once its workers
  // are gone).
  onRead: () => void = () => {}
  onReturn: () => Promise<void> = () => Promise.resolve()

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
  add(batch: Batch, values: Packed, failed: ReadonlySet<number>, bytesPerResult: number): void {
    this.#mark = Math.min(HIGH_WATER, Math.floor(HIGH_WATER_BYTES / bytesPerResult))
    for (let i = 0; i < values.length; i++)
      if (!failed.has(i)) this.#items.push({ index: indexAt(batch, i), value: values[i] as R })
    this.#done += values.length - failed.size
    this.#wake?.resolve()
  }

  // The map is over: `error` (after the results already held), or the end.
  end(error?: { error: unknown }): void {
    this.#ending ??= error ?? { error: undefined }
    this.#wake?.resolve()
  }

  async next(): Promise<IteratorResult<MapResult<R>>> {
    for (;;) {
      if (this.#closed) return { done: true, value: undefined }
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
  }

  // `break` in for await: the map stops its workers, and the loop ends once they are gone, as a map
  // that settles leaves none.
  async return(): Promise<IteratorResult<MapResult<R>>> {
    if (!this.#closed) {
      this.#closed = true
      this.#items = []
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
  }
}
