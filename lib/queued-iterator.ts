// The one async iterator behind every stream zstate hands out (watch, topic subscriptions, status),
// after nats.js's QueuedIterator: producers push and never wait, the consumer pulls. Pushes land in
// one array that the consumer takes over whole once it has read the previous one, so a backlog of
// 10,000 costs O(1) an item (Array#shift would copy what is left at every step).
import { deferred, type Deferred } from './deferred.ts'

/** What push() does while the consumer lags. */
export type Overflow<T> =
  /** Beyond `limit` unconsumed items the iterator ends: it yields those, then throws `error()`. */
  | { policy: 'error'; limit: number; error: () => unknown }
  /** Beyond `limit` unconsumed items new ones are discarded, and counted in `dropped`. */
  | { policy: 'drop'; limit: number }
  /** Only the newest unconsumed item per `key(item)` is held; a replaced one moves to the back. */
  | { policy: 'keep-latest'; key: (item: T) => string }

export interface QueuedIteratorOptions<T> {
  /** Default: unbounded, for producers that are bounded themselves. */
  overflow?: Overflow<T> | undefined
  /** Ends the iterator with `signal.reason`, thrown after the items already held. */
  signal?: AbortSignal | undefined
  /** Called once when the iterator stops taking items, however it ends: the producer lets go here. */
  onEnd?: (() => void) | undefined
  /** Items yielded before every pushed one (a replay); the first next() waits for them, and a
   * rejection ends the iterator with its error. */
  prelude?: Promise<Iterable<T>> | undefined
}

// A signal's listener holds its iterator weakly (a long-lived signal must not keep every iterator made
// with it), and is taken off the signal when an iterator dropped unended is collected.
const unhooked = new FinalizationRegistry<{ signal: AbortSignal; listener: () => void }>(
  ({ signal, listener }) => signal.removeEventListener('abort', listener),
)

// What heldWeakly() runs for an iterator collected.
const collected = new FinalizationRegistry<() => void>((onCollected) => onCollected())

export class QueuedIterator<T> implements AsyncIterableIterator<T>, AsyncDisposable {
  // Weakly held iterators a consumer awaits: a consumer suspended in next() is reachable only through
  // its iterator, which its producer holds weakly (heldWeakly()).
  static readonly #awaited = new Set<object>()
  #weak = false
  /** Items discarded by the 'drop' policy. */
  dropped = 0
  readonly #overflow: Overflow<T> | undefined
  // The signal that ends it, and the listener it added (taken off when it ends).
  #signal: { readonly signal: AbortSignal; readonly listener: () => void } | undefined
  readonly #onEnd: (() => void) | undefined
  // The consumer reads #out from #at; pushes go to #in, which becomes #out once #out is read.
  #out: T[] = []
  #at = 0
  #in: T[] = []
  readonly #latest: Map<string, T> | undefined // keep-latest: takes the place of #in
  #cursor: MapIterator<[string, T]> | undefined
  #prelude: Promise<void> | undefined
  #ending: { error: unknown } | undefined
  #done = false
  #wake: Deferred<void> | undefined

  constructor(options: QueuedIteratorOptions<T> = {}) {
    this.#overflow = options.overflow
    this.#onEnd = options.onEnd
    if (this.#overflow?.policy === 'keep-latest') this.#latest = new Map()
    this.#prelude = options.prelude?.then(
      (items) => this.#prepend(items),
      (error: unknown) => {
        this.#prelude = undefined
        // What was pushed meanwhile would follow a gap: the consumer gets the error first, and only.
        this.#out = []
        this.#at = 0
        this.#in = []
        this.#latest?.clear()
        this.end(error)
      },
    )
    const signal = options.signal
    if (signal?.aborted === true) this.end(signal.reason)
    else if (signal !== undefined) {
      const listener = abortListener(new WeakRef(this), signal)
      this.#signal = { signal, listener }
      signal.addEventListener('abort', listener, { once: true })
      unhooked.register(this, this.#signal, this)
    }
  }

  /**
   * A producer's hold that does not keep it alive: once its consumer lets go (no reference left, no
   * next() pending) it is collected and `onCollected` runs, which must not hold it.
   */
  heldWeakly(onCollected: () => void): WeakRef<this> {
    this.#weak = true
    collected.register(this, onCollected)
    return new WeakRef(this)
  }

  /** Whether it has stopped taking items (end(), close(), overflow or the signal). */
  get ended(): boolean {
    return this.#ending !== undefined
  }

  /** The error it ended with, thrown once the items held are consumed; undefined if none (yet). */
  get reason(): unknown {
    return this.#ending?.error
  }

  push(item: T): void {
    if (this.#ending !== undefined) return
    const overflow = this.#overflow
    if (overflow?.policy === 'keep-latest') {
      const key = overflow.key(item)
      this.#latest!.delete(key)
      this.#latest!.set(key, item)
    } else if (overflow !== undefined && this.#out.length - this.#at + this.#in.length >= overflow.limit) {
      if (overflow.policy === 'drop') return void this.dropped++
      return this.end(overflow.error())
    } else this.#in.push(item)
    this.#wakeUp()
  }

  /**
   * push() of a group that arrives at once (a commit's changes): the 'error' policy looks at what is
   * held before the group only, so one group larger than `limit` does not end the iterator of a
   * consumer that keeps up between groups.
   */
  pushAll(items: readonly T[]): void {
    const overflow = this.#overflow
    if (overflow?.policy !== 'error') return items.forEach((item) => this.push(item))
    if (this.#ending !== undefined || items.length === 0) return
    if (this.#out.length - this.#at + this.#in.length >= overflow.limit) return this.end(overflow.error())
    for (const item of items) this.#in.push(item)
    this.#wakeUp()
  }

  /** Takes no more items: the consumer gets those held, then `error` once (none: it is done). */
  end(error?: unknown): void {
    if (this.#ending !== undefined) return
    this.#ending = { error }
    if (this.#signal !== undefined) {
      this.#signal.signal.removeEventListener('abort', this.#signal.listener)
      unhooked.unregister(this)
    }
    this.#onEnd?.()
    this.#wakeUp()
  }

  /** Ends it now, quietly: what is held is discarded. Idempotent. */
  close(): void {
    this.end()
    this.#done = true
    this.#out = []
    this.#at = 0
    this.#in = []
    this.#latest?.clear()
    this.#wakeUp()
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (this.#done) return { done: true, value: undefined }
      // Nothing pushed comes out before the prelude, but close() still ends a next() waiting for it.
      const taken = this.#prelude === undefined ? this.#take() : undefined
      if (taken !== undefined) return taken
      if (this.#ending !== undefined && this.#prelude === undefined) {
        this.#done = true
        if (this.#ending.error !== undefined) throw this.#ending.error
        return { done: true, value: undefined }
      }
      if (this.#wake === undefined) {
        this.#wake = deferred<void>()
        if (this.#weak) QueuedIterator.#awaited.add(this)
      }
      await this.#wake.promise
    }
  }

  // `break` in for await lands here.
  async return(): Promise<IteratorResult<T, undefined>> {
    this.close()
    return { done: true, value: undefined }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  #take(): IteratorYieldResult<T> | undefined {
    if (this.#at === this.#out.length) {
      if (this.#in.length > 0) {
        this.#out = this.#in
        this.#in = []
        this.#at = 0
      } else return this.#takeLatest()
    }
    const value = this.#out[this.#at++]!
    // Let go of what was read: the next take swaps #in over.
    if (this.#at === this.#out.length) {
      this.#out = []
      this.#at = 0
    }
    return { done: false, value }
  }

  #takeLatest(): IteratorYieldResult<T> | undefined {
    const latest = this.#latest
    if (latest === undefined || latest.size === 0) return undefined
    // One live cursor, not a fresh entries() a take: a fresh one steps over every hole the takes
    // before it left (quadratic). Whatever lies before the cursor has been taken, so it is at the oldest.
    let next = this.#cursor?.next()
    if (next === undefined || next.done === true) next = (this.#cursor = latest.entries()).next()
    const [key, value] = next.value!
    latest.delete(key)
    return { done: false, value }
  }

  #prepend(items: Iterable<T>): void {
    this.#prelude = undefined
    if (this.#done) return
    const overflow = this.#overflow
    if (overflow?.policy === 'keep-latest') {
      // The prelude's items come first, each replaced by a newer one of its key, as a push replaces
      // one; those pushed meanwhile are newer still.
      const latest = this.#latest!
      const pushed = [...latest.values()]
      latest.clear()
      this.#cursor = undefined
      for (const item of [...items, ...pushed]) {
        const key = overflow.key(item)
        latest.delete(key)
        latest.set(key, item)
      }
      return this.#wakeUp()
    }
    this.#out = [...items, ...this.#out.slice(this.#at), ...this.#in]
    this.#at = 0
    this.#in = []
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    if (wake === undefined) return
    this.#wake = undefined
    if (this.#weak) QueuedIterator.#awaited.delete(this)
    wake.resolve()
  }
}

// Made out here: a closure made in the constructor would share its scope with the others made there,
// which hold the iterator itself.
function abortListener(iterator: WeakRef<{ end(error: unknown): void }>, signal: AbortSignal): () => void {
  return () => iterator.deref()?.end(signal.reason)
}
