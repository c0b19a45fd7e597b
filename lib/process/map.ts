// map(): the ventilator → workers → sink pipeline. Input is pulled lazily; every item is tracked by
// index until its result is in; batches go to a pool of workers, CREDIT batches in flight each; a
// worker that dies has its items re-dispatched; results come back in input order.
import { ErrorCode, ProcessExitError, RemoteError, ZStateError } from '../errors.ts'
import { deferred } from '../deferred.ts'
import type { Attempt, LaunchOptions } from './attempt.ts'
import { BatchSizer, CREDIT } from './batching.ts'
import { Input } from './input.ts'
import type { BatchResults, FromChild } from './messages.ts'
import type { ResolvedMapOptions } from './options.ts'
import { callSite, remoteError, withCallSite } from './remote-error.ts'
import type { Target } from './target.ts'

export interface MapHost {
  prepare(thread: boolean): Promise<void>
  launch(thread: boolean, options: Omit<LaunchOptions, 'registrar'>): Attempt
  childEnv(extra: Record<string, string>): Record<string, string>
  nextName(label: string): string
  // Registers a running map so that closing the context cancels it; returns the unregister function.
  track(map: { cancel(reason: unknown): Promise<void> }): () => void
}

interface Item {
  readonly index: number
  readonly value: unknown
  failures: number
  deaths: number
}

interface Batch {
  readonly id: number
  readonly items: readonly Item[]
}

interface Worker {
  readonly attempt: Attempt
  ready: boolean
  readonly batches: Batch[]
}

// An item in flight in this many workers that died fails the map: it is what kills them.
const MAX_DEATHS = 3
// Workers that die before they are ready, in a row, before the map gives up.
const MAX_START_FAILURES = 3
// How long a failing or aborted map gives its workers to stop before they are killed.
const POOL_GRACE_MS = 1_000

export function runMap(
  host: MapHost,
  target: Target,
  items: unknown,
  options: ResolvedMapOptions,
): Promise<unknown[]> {
  return new MapRun(host, target, new Input(items), options).run()
}

class MapRun {
  readonly #host: MapHost
  readonly #target: Target
  readonly #input: Input
  readonly #options: ResolvedMapOptions
  readonly #sizer = new BatchSizer()
  readonly #settled = deferred<unknown[]>()
  readonly #results: unknown[] = []
  readonly #workers = new Set<Worker>()
  // Pulled or returned items waiting for a worker; suspects (from a batch whose worker died) go alone.
  #queue: Item[] = []
  #suspects: Item[] = []
  #done = 0
  #nextBatch = 1
  #startFailures = 0
  #pumping = false
  #again = false
  #ending = false
  #failure: { error: unknown } | undefined
  readonly #site = callSite()

  constructor(host: MapHost, target: Target, input: Input, options: ResolvedMapOptions) {
    this.#host = host
    this.#target = target
    this.#input = input
    this.#options = options
  }

  async run(): Promise<unknown[]> {
    const { signal } = this.#options
    if (signal?.aborted === true) throw signal.reason
    const onAbort = (): void => this.#fail(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    await this.#host.prepare(this.#options.thread)
    const untrack = this.#host.track(this)
    try {
      this.#pump()
      return await this.#settled.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      untrack()
    }
  }

  cancel(reason: unknown): Promise<void> {
    this.#fail(reason)
    return this.#settled.promise.then(
      () => {},
      () => {},
    )
  }

  // Dispatches until every ready worker has its credit or there is nothing left; re-entrant calls
  // just ask for another round.
  #pump(): void {
    if (this.#pumping) {
      this.#again = true
      return
    }
    this.#pumping = true
    void this.#rounds()
      .catch((error: unknown) => this.#fail(error))
      .finally(() => (this.#pumping = false))
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false
      if (this.#failure !== undefined || this.#ending) return
      // Look ahead far enough to know how many workers are worth starting.
      await this.#fill(this.#options.concurrency)
      this.#startWorkers()
      // Every idle worker gets a batch; then, with small items only, one more each, so no worker
      // waits for a round trip. A heavy item never holds up a batch queued behind it.
      await this.#dispatch(1)
      if (this.#sizer.small && [...this.#workers].every((worker) => worker.ready))
        await this.#dispatch(CREDIT)
      this.#finishIfDone()
    } while (this.#again)
  }

  async #dispatch(credit: number): Promise<void> {
    for (const worker of this.#workers) {
      while (worker.ready && worker.batches.length < credit && worker.attempt.running) {
        const batch = await this.#take()
        if (batch === undefined || this.#failure !== undefined) return
        this.#send(worker, batch)
      }
    }
  }

  get #waiting(): number {
    return this.#queue.length + this.#suspects.length
  }

  async #fill(n: number): Promise<void> {
    if (this.#queue.length >= n || this.#input.exhausted) return
    for (const { index, value } of await this.#input.pull(n - this.#queue.length))
      this.#queue.push({ index, value, failures: 0, deaths: 0 })
  }

  #startWorkers(): void {
    let inFlight = 0
    for (const worker of this.#workers) for (const batch of worker.batches) inFlight += batch.items.length
    while (this.#workers.size < this.#options.concurrency && this.#workers.size < this.#waiting + inFlight)
      this.#startWorker()
  }

  #startWorker(): void {
    const name = this.#host.nextName(`${this.#target.label}.map`)
    const worker: Worker = {
      ready: false,
      batches: [],
      attempt: this.#host.launch(this.#options.thread, {
        job: { t: 'job', mode: 'map', target: this.#target, args: [], name },
        name,
        env: this.#host.childEnv({}),
        execArgv: this.#options.execArgv,
        attempt: 1,
        onReady: () => {
          worker.ready = true
          this.#startFailures = 0
          this.#pump()
        },
        onMessage: (message) => this.#receive(worker, message),
      }),
    }
    this.#workers.add(worker)
    void worker.attempt.outcome.then((outcome) => this.#lost(worker, outcome.ok ? undefined : outcome.error))
  }

  async #take(): Promise<Batch | undefined> {
    const suspect = this.#suspects.shift()
    if (suspect !== undefined) return { id: this.#nextBatch++, items: [suspect] }
    const remaining = this.#input.total === undefined ? undefined : this.#input.total - this.#done
    const size = this.#sizer.size(remaining, Math.max(1, this.#workers.size))
    if (this.#queue.length < size) await this.#fill(size)
    if (this.#queue.length === 0) return undefined
    const items = this.#queue.splice(0, size)
    return { id: this.#nextBatch++, items }
  }

  #send(worker: Worker, batch: Batch): void {
    worker.batches.push(batch)
    try {
      worker.attempt.send({
        t: 'items',
        batch: batch.id,
        indices: batch.items.map((item) => item.index),
        items: batch.items.map((item) => item.value),
      })
    } catch (error) {
      const culprit = batch.items.find((item) => !cloneable(item.value))
      const index = culprit === undefined ? '' : ` (item ${culprit.index})`
      this.#fail(
        new ZStateError(ErrorCode.UNENCODABLE, `map: an item cannot be sent to a worker${index}`, {
          cause: error,
        }),
      )
    }
  }

  #receive(worker: Worker, message: FromChild): void {
    if (message.t !== 'results' || this.#failure !== undefined) return
    const at = worker.batches.findIndex((batch) => batch.id === message.batch)
    if (at < 0) return
    const [batch] = worker.batches.splice(at, 1)
    this.#sizer.record(batch!.items.length, message.ms)
    this.#collect(worker, batch!, message)
    if (this.#failure !== undefined) return
    this.#progress()
    this.#pump()
  }

  #collect(worker: Worker, batch: Batch, message: BatchResults): void {
    const failed = new Map(message.failed.map(([position, error]) => [position, error]))
    batch.items.forEach((item, position) => {
      const error = failed.get(position)
      if (error === undefined) {
        this.#results[item.index] = message.values[position]
        this.#done++
        return
      }
      if (++item.failures <= this.#options.retries) return this.#queue.unshift(item)
      const remote = remoteError(error, worker.attempt.pid)
      this.#fail(withIndex(remote, item.index))
    })
  }

  // A worker has exited: unless the map is over, its unfinished items go to other workers.
  #lost(worker: Worker, error: Error | undefined): void {
    this.#workers.delete(worker)
    if (this.#failure !== undefined || this.#ending) return
    if (!worker.ready) {
      // It died loading the target: a reported error is final, a crash may be bad luck.
      if (error instanceof RemoteError || ++this.#startFailures >= MAX_START_FAILURES)
        return this.#fail(error ?? new ZStateError(ErrorCode.ABORTED, `${worker.attempt.name} exited`))
      return this.#pump()
    }
    const [running, ...waiting] = worker.batches
    worker.batches.length = 0
    this.#queue.unshift(...waiting.flatMap((batch) => batch.items))
    for (const item of running?.items ?? []) {
      if (++item.deaths >= MAX_DEATHS) {
        const cause = error ?? new ZStateError(ErrorCode.ABORTED, `${worker.attempt.name} exited`)
        return this.#fail(withIndex(cause, item.index))
      }
      this.#suspects.push(item)
    }
    this.#pump()
  }

  #progress(): void {
    const total = this.#input.total
    if (total !== undefined && this.#done >= total) return // reported once, by #finishIfDone
    this.#options.onProgress?.(this.#done, total)
  }

  #finishIfDone(): void {
    if (!this.#input.exhausted || this.#waiting > 0 || this.#ending) return
    for (const worker of this.#workers) if (worker.batches.length > 0) return
    this.#ending = true
    void this.#finish()
  }

  async #finish(): Promise<void> {
    try {
      this.#options.onProgress?.(this.#done, this.#done)
    } catch (error) {
      this.#ending = false
      return this.#fail(error)
    }
    const workers = [...this.#workers]
    for (const worker of workers) worker.attempt.send({ t: 'end' })
    await Promise.all(workers.map((worker) => worker.attempt.outcome))
    this.#settled.resolve(this.#results)
  }

  // Ends the map with `error`: the pool is stopped (their ctx.signal aborts with ERR_ABORTED, then
  // they are killed) and the map rejects once no worker is left.
  #fail(error: unknown): void {
    if (this.#failure !== undefined) return
    this.#failure = { error }
    this.#input.close()
    const workers = [...this.#workers]
    void Promise.all(workers.map((worker) => worker.attempt.stop(POOL_GRACE_MS))).then(() =>
      this.#settled.reject(withCallSite(error, this.#site)),
    )
  }
}

// The failing item's index, on the error map() rejects with (its message stays the remote one).
function withIndex(error: Error, index: number): Error {
  if (error instanceof RemoteError || error instanceof ProcessExitError)
    Object.defineProperty(error, 'index', { value: index, enumerable: true, configurable: true })
  return error
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value)
    return true
  } catch {
    return false
  }
}
