// map()'s results as they come back, batch by batch, put in input order once all are in. (Writing
// each result into one array as it arrives, out of order and ahead of the array's length, would turn
// it into a slow dictionary in V8.)
import { indexAt, type Batch } from './map-queue.ts'
import type { Packed } from './numbers.ts'

export class MapResults {
  readonly #chunks: { readonly batch: Batch; readonly values: Packed }[] = []
  readonly #singles: [index: number, value: unknown][] = []
  #done = 0

  get done(): number {
    return this.#done
  }

  // map() keeps every result: it never holds its workers back.
  get room(): number {
    return Infinity
  }

  // A batch's results; the positions in `failed` hold nothing yet (their items go round again).
  add(batch: Batch, values: Packed, failed: ReadonlySet<number>): void {
    if (batch.indices === undefined && failed.size === 0) this.#chunks.push({ batch, values })
    else
      for (let i = 0; i < values.length; i++)
        if (!failed.has(i)) this.#singles.push([indexAt(batch, i), values[i]])
    this.#done += values.length - failed.size
  }

  assemble(): unknown[] {
    const out: unknown[] = new Array(this.#done)
    for (const { batch, values } of this.#chunks)
      for (let i = 0; i < values.length; i++) out[batch.first + i] = values[i]
    for (const [index, value] of this.#singles) out[index] = value
    return out
  }
}
