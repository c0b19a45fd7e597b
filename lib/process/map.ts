// map(): the ventilator → workers → sink pipeline. Input is pulled lazily; every item is tracked by
// index until its result is in; batches go to a pool of workers, with a second one in flight for
// small items; a worker that dies has its items re-dispatched; results come back in input order.
import { ErrorCode, ProcessExitError, RemoteError, ZStateError } from '../errors.ts'
import { deferred } from '../deferred.ts'
import type { Attempt, LaunchRequest } from './attempt.ts'
import { BatchSizer, CREDIT } from './batching.ts'
import { Input } from './input.ts'
import { indexAt, WorkQueue, type Batch } from './map-queue.ts'
import { MapResults } from './map-results.ts'
import { MapStream } from './map-stream.ts'
import type { BatchResults, FromChild } from './messages.ts'
import type { ResolvedMapOptions } from './options.ts'
import { callSite, remoteError, withCallSite } from './remote-error.ts'
import type { Target } from './target.ts'
import { routeTo, sendable } from './cloneable.ts'
import { packNumbers, type Packed } from './numbers.ts'
import type { Position } from '../connect.ts'

export interface MapHost {
  prepare(thread: boolean): Promise<void>
  launch(thread: boolean, options: LaunchRequest): Attempt
  childEnv(extra: Record<string, string>): Record<string, string>
  nextName(label: string): string
  // Resolves once the context's replica shows what a worker's saw when it reported (ClientImpl).
  reached(seen: Position): Promise<void>
  // Registers a running map so that closing the context cancels it; returns the unregister function.
  track(map: { cancel(reason: unknown): Promise<void> }): () => void
}

interface Worker {
  readonly attempt: Attempt
  ready: boolean
  // In the order sent: the first is the one the worker is running.
  readonly batches: Batch[]
  // Batches asked back (revoke) and not yet answered.
  readonly revoking: Set<number>
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
  const results = new MapResults()
  return new MapRun(host, target, new Input(items), options, results).run().then(() => results.assemble())
}

// mapUnordered(): the same run, its results handed out as they come.
export function streamMap(
  host: MapHost,
  target: Target,
  items: unknown,
  options: ResolvedMapOptions,
): MapStream<unknown> {
  const stream = new MapStream<unknown>()
  const run = new MapRun(host, target, new Input(items), options, stream)
  stream.onRead = () => run.resume()
  stream.reached = (seen) => host.reached(seen)
  stream.onReturn = () =>
    run.cancel(new ZStateError(ErrorCode.ABORTED, 'mapUnordered: the consumer stopped reading'))
  run.run().then(
    () => stream.end(),
    (error: unknown) => stream.end({ error }),
  )
  return stream
}

// Where a run's results go: kept for map(), or streamed for mapUnordered(), which may ask the run to
// hold back: it takes `room` more results, and a batch never holds more.
export interface ResultSink {
  readonly done: number
  readonly room: number
  // `seen`: the replica position its worker had reached when it reported.
  add(
    batch: Batch,
    values: Packed,
    failed: ReadonlySet<number>,
    bytesPerResult: number,
    seen: Position | undefined,
  ): void
}

class MapRun {
  readonly #host: MapHost
  readonly #target: Target
  readonly #input: Input
  readonly #options: ResolvedMapOptions
  readonly #sizer = new BatchSizer()
  readonly #queue = new WorkQueue()
  readonly #results: ResultSink
  // The latest replica position a worker reported: what the parent's state shows before the map ends.
  #seen: Position | undefined
  readonly #settled = deferred<void>()
  readonly #workers = new Set<Worker>()
  // Per item, only for the few that fail or outlive a worker.
  readonly #failures = new Map<number, number>()
  readonly #deaths = new Map<number, number>()
  readonly #site = callSite()
  #startFailures = 0
  #pumping = false
  #again = false
  #ending = false
  #failure: { error: unknown } | undefined

  constructor(host: MapHost, target: Target, input: Input, options: ResolvedMapOptions, results: ResultSink) {
    this.#host = host
    this.#target = target
    this.#input = input
    this.#options = options
    this.#results = results
    input.sink = {
      add: (first, values) => this.#queue.addRun(first, values),
      changed: () => this.#pump(),
      failed: (error) => this.#fail(error),
    }
  }

  async run(): Promise<void> {
    const { signal } = this.#options
    if (signal?.aborted === true) throw signal.reason
    await this.#host.prepare(this.#options.thread)
    const onAbort = (): void => this.#fail(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    const untrack = this.#host.track(this)
    try {
      this.#pump()
      return await this.#settled.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      untrack()
    }
  }

  // The sink has room again.
  resume(): void {
    this.#pump()
  }

  cancel(reason: unknown): Promise<void> {
    this.#fail(reason)
    return this.#settled.promise.then(
      () => {},
      () => {},
    )
  }

  // Dispatches until every ready worker has its batches or there is nothing left to send now;
  // re-entrant calls (an item pulled, a worker started) just ask for another round.
  #pump(): void {
    if (this.#pumping) {
      this.#again = true
      return
    }
    this.#pumping = true
    try {
      do {
        this.#again = false
        if (this.#failure !== undefined || this.#ending) return
        // Look ahead far enough to know how many workers are worth starting.
        this.#fill(this.#options.concurrency)
        this.#startWorkers()
        // Every idle worker gets a batch; then, with small items only, one more each, so no worker
        // waits for a round trip. A heavy item never holds up a batch queued behind it (#reclaim).
        this.#dispatch(1)
        if (this.#sizer.small && [...this.#workers].every((worker) => worker.ready)) this.#dispatch(CREDIT)
        this.#reclaim()
        this.#finishIfDone()
      } while (this.#again)
    } catch (error) {
      this.#fail(error)
    } finally {
      this.#pumping = false
    }
  }

  #dispatch(credit: number): void {
    for (const worker of this.#workers) {
      while (worker.ready && worker.batches.length < credit && worker.attempt.running) {
        if (this.#results.room === 0) return
        const batch = this.#take()
        if (batch === undefined || this.#failure !== undefined) return
        this.#send(worker, batch)
      }
    }
  }

  // With nothing left to hand out and a worker idle, the batches queued behind the ones other workers
  // run are asked back: an item that turned out slow must not hold up those queued after it. A worker
  // answers for a batch it has not started (#receive requeues it); one it started just runs.
  #reclaim(): void {
    if (this.#queue.size > 0 || !this.#input.exhausted || this.#results.room === 0) return
    const idle = (worker: Worker): boolean =>
      worker.ready && worker.attempt.running && worker.batches.length === 0
    if (![...this.#workers].some(idle)) return
    for (const worker of this.#workers)
      for (const batch of worker.batches.slice(1)) {
        if (worker.revoking.has(batch.id)) continue
        worker.revoking.add(batch.id)
        worker.attempt.send({ t: 'revoke', batch: batch.id })
      }
  }

  #fill(n: number): void {
    if (this.#queue.size < n) this.#input.pull(n - this.#queue.size)
  }

  #inFlight(): number {
    let items = 0
    for (const worker of this.#workers) for (const batch of worker.batches) items += batch.values.length
    return items
  }

  #startWorkers(): void {
    const work = this.#queue.size + this.#inFlight()
    while (this.#workers.size < this.#options.concurrency && this.#workers.size < work) this.#startWorker()
  }

  #startWorker(): void {
    const name = this.#host.nextName(`${this.#target.label}.map`)
    const worker: Worker = {
      ready: false,
      batches: [],
      revoking: new Set(),
      attempt: this.#host.launch(this.#options.thread, {
        job: {
          t: 'job',
          mode: 'map',
          target: this.#target,
          args: this.#options.args,
          name,
          replicate: this.#options.replicate,
        },
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

  // The next batch, or none while more of it is on its way from an async producer (which pumps when
  // it hands them over, or stalls).
  #take(): Batch | undefined {
    const total = this.#input.total
    const remaining = total === undefined ? undefined : total - this.#results.done
    const size = Math.min(this.#sizer.size(remaining, Math.max(1, this.#workers.size)), this.#results.room)
    this.#fill(size)
    if (this.#queue.size < size && this.#input.coming) return undefined
    const batch = this.#queue.take(size)
    if (batch !== undefined) this.#sizer.weigh(batch.values)
    return batch
  }

  #send(worker: Worker, batch: Batch): void {
    worker.batches.push(batch)
    const send = (values: readonly unknown[]): void =>
      worker.attempt.send({
        t: 'items',
        batch: batch.id,
        first: batch.first,
        indices: batch.indices,
        items: packNumbers(values),
      })
    try {
      send(batch.values)
    } catch (error) {
      // State snapshots among the items cross as plain copies; anything else refused stays refused.
      const sent = batch.values.map((value) => sendable(value, routeTo(this.#options.thread)))
      if (sent.every((item) => 'value' in item)) {
        try {
          return send(sent.map((item) => item.value))
        } catch {
          // reported below, as the first failure
        }
      }
      const culprit = sent.findIndex((item) => 'error' in item)
      const which = culprit < 0 ? '' : ` (item ${indexAt(batch, culprit)})`
      this.#fail(
        new ZStateError(ErrorCode.UNENCODABLE, `map: an item cannot be sent to a worker${which}`, {
          cause: error,
        }),
      )
    }
  }

  #receive(worker: Worker, message: FromChild): void {
    if ((message.t !== 'results' && message.t !== 'revoked') || this.#failure !== undefined) return
    const at = worker.batches.findIndex((batch) => batch.id === message.batch)
    if (at < 0) return
    const batch = worker.batches.splice(at, 1)[0]!
    worker.revoking.delete(batch.id)
    if (message.t === 'revoked') {
      this.#queue.requeue(batch)
      return this.#pump()
    }
    this.#sizer.record(batch.values.length, message.ms)
    this.#sizer.weighResults(message.values)
    const { seen } = message
    if (
      seen !== undefined &&
      (this.#seen === undefined || this.#seen[0] !== seen[0] || this.#seen[1] < seen[1])
    )
      this.#seen = seen
    this.#collect(worker, batch, message)
    if (this.#failure !== undefined) return
    this.#progress()
    this.#pump()
  }

  #collect(worker: Worker, batch: Batch, message: BatchResults): void {
    const failed = new Set<number>()
    for (const [position, error] of message.failed) {
      failed.add(position)
      const index = indexAt(batch, position)
      const failures = (this.#failures.get(index) ?? 0) + 1
      this.#failures.set(index, failures)
      if (failures <= this.#options.retries) this.#queue.again(index, batch.values[position])
      else return this.#fail(withIndex(remoteError(error, worker.attempt.pid), index))
    }
    this.#results.add(batch, message.values, failed, this.#sizer.bytesPerResult, message.seen)
  }

  // A worker has exited: unless the map is over, its unfinished items go to other workers.
  #lost(worker: Worker, error: Error | undefined): void {
    this.#workers.delete(worker)
    if (this.#failure !== undefined || this.#ending) return
    const cause = error ?? new ZStateError(ErrorCode.ABORTED, `${worker.attempt.name} exited`)
    if (!worker.ready) {
      // It died loading the target: a reported error is final, a crash may be bad luck.
      if (error instanceof RemoteError || ++this.#startFailures >= MAX_START_FAILURES)
        return this.#fail(cause)
      return this.#pump()
    }
    const [running, ...waiting] = worker.batches
    worker.batches.length = 0
    for (const batch of waiting.reverse()) this.#queue.requeue(batch)
    if (running !== undefined) {
      for (let position = 0; position < running.values.length; position++) {
        const index = indexAt(running, position)
        const deaths = (this.#deaths.get(index) ?? 0) + 1
        this.#deaths.set(index, deaths)
        if (deaths >= MAX_DEATHS) return this.#fail(withIndex(cause, index))
        this.#queue.suspect(index, running.values[position])
      }
    }
    this.#pump()
  }

  // onProgress runs in a worker's message handler: what it throws fails the map, as at the end.
  #progress(): void {
    const total = this.#input.total
    if (total !== undefined && this.#results.done >= total) return // reported once, by #finish
    try {
      this.#options.onProgress?.(this.#results.done, total)
    } catch (error) {
      this.#fail(error)
    }
  }

  #finishIfDone(): void {
    if (!this.#input.exhausted || this.#queue.size > 0 || this.#ending) return
    for (const worker of this.#workers) if (worker.batches.length > 0) return
    this.#ending = true
    void this.#finish()
  }

  async #finish(): Promise<void> {
    const total = this.#results.done
    try {
      this.#options.onProgress?.(total, total)
    } catch (error) {
      this.#ending = false
      return this.#fail(error)
    }
    const workers = [...this.#workers]
    for (const worker of workers) worker.attempt.send({ t: 'end' })
    await Promise.all(workers.map((worker) => worker.attempt.outcome))
    // The map's caller then reads every item's writes in the parent's state.
    if (this.#seen !== undefined) await this.#host.reached(this.#seen)
    this.#settled.resolve()
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
