// What map() has yet to send to a worker: runs of fresh items (consecutive indices, as pulled, so
// tiny items cost no object each), items going round again (retried, or back from a worker that
// never started them), and suspects (from the batch a dead worker was running), sent one by one.

export interface Batch {
  readonly id: number
  // The items' indices: `first`, first + 1, … unless `indices` lists them.
  readonly first: number
  readonly indices: readonly number[] | undefined
  readonly values: readonly unknown[]
}

export function indexAt(batch: Batch, position: number): number {
  return batch.indices === undefined ? batch.first + position : batch.indices[position]!
}

interface Run {
  readonly first: number
  readonly values: readonly unknown[]
  offset: number
}

interface Single {
  readonly index: number
  readonly value: unknown
}

export class WorkQueue {
  readonly #runs: Run[] = []
  readonly #again: Single[] = []
  readonly #suspects: Single[] = []
  #size = 0
  #nextBatch = 1

  // Items waiting.
  get size(): number {
    return this.#size
  }

  addRun(first: number, values: readonly unknown[]): void {
    if (values.length === 0) return
    this.#runs.push({ first, values, offset: 0 })
    this.#size += values.length
  }

  // An item to try again, before fresh ones.
  again(index: number, value: unknown): void {
    this.#again.unshift({ index, value })
    this.#size++
  }

  suspect(index: number, value: unknown): void {
    this.#suspects.push({ index, value })
    this.#size++
  }

  // A batch a worker never started goes back to the front, as it was.
  requeue(batch: Batch): void {
    if (batch.indices === undefined)
      this.#runs.unshift({ first: batch.first, values: batch.values, offset: 0 })
    else batch.values.forEach((value, i) => this.#again.push({ index: batch.indices![i]!, value }))
    this.#size += batch.values.length
  }

  // The next batch of at most `size` items: a suspect alone, else items going round again, else
  // fresh consecutive ones. The input is pulled in runs, each following the one before (map pulls
  // a few items to start workers, then what a batch lacks), so a batch goes on into the next run:
  // cut at the end of each, batches came out at half their size or less.
  take(size: number): Batch | undefined {
    const suspect = this.#suspects.shift()
    if (suspect !== undefined) return this.#singles([suspect])
    if (this.#again.length > 0) return this.#singles(this.#again.splice(0, size))
    const start = this.#runs[0]
    if (start === undefined) return undefined
    const first = start.first + start.offset
    let values: readonly unknown[] = []
    for (
      let run: Run | undefined = start;
      run !== undefined && values.length < size && run.first + run.offset === first + values.length;
      run = this.#runs[0]
    ) {
      // A whole run is handed on as it is: for a plain array the input's pull made it a copy already.
      const whole = run.offset === 0 && run.values.length <= size - values.length
      const taken = whole ? run.values : run.values.slice(run.offset, run.offset + size - values.length)
      values = values.length === 0 ? taken : values.concat(taken)
      run.offset += taken.length
      if (run.offset >= run.values.length) this.#runs.shift()
    }
    this.#size -= values.length
    return { id: this.#nextBatch++, first, indices: undefined, values }
  }

  #singles(items: Single[]): Batch {
    this.#size -= items.length
    return {
      id: this.#nextBatch++,
      first: 0,
      indices: items.map((item) => item.index),
      values: items.map((item) => item.value),
    }
  }
}
