// subscribe(): the messages of one prefix as an async iterator; break, close() or the signal unsubscribe.
import { ErrorCode, ZStateError } from '../errors.ts'
import type { Subscription, TopicMessage } from './types.ts'

// Beyond this many unconsumed messages a subscription drops new ones (topics are at most once anyway).
export const MAX_UNCONSUMED = 10_000

export class TopicSubscription<T> implements Subscription<T> {
  readonly prefix: string
  ready: Promise<void> = Promise.resolve()
  dropped = 0
  readonly #signal: AbortSignal | undefined
  readonly #unsubscribe: (subscription: TopicSubscription<T>) => void
  #queue: TopicMessage<T>[] = []
  #ending: { error: unknown } | undefined
  #done = false
  #wake: (() => void) | undefined

  constructor(
    prefix: string,
    signal: AbortSignal | undefined,
    unsubscribe: (subscription: TopicSubscription<T>) => void,
  ) {
    this.prefix = prefix
    this.#signal = signal
    this.#unsubscribe = unsubscribe
    signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  get ended(): boolean {
    return this.#ending !== undefined
  }

  // Why the subscription ended before it was ready: the signal's reason, or ERR_CLOSED.
  get endReason(): unknown {
    return this.#ending?.error ?? new ZStateError(ErrorCode.CLOSED, 'the subscription was closed')
  }

  readonly #onAbort = (): void => this.end(this.#signal!.reason)

  push(topic: string, message: unknown): void {
    if (this.#ending !== undefined) return
    if (this.#queue.length >= MAX_UNCONSUMED) {
      this.dropped++
      return
    }
    this.#queue.push({ topic, message: message as T })
    this.#wake?.()
  }

  // Ends the stream: with an error (the signal's reason) next() throws it once the queue is empty.
  end(error?: unknown): void {
    if (this.#ending !== undefined) return
    this.#ending = { error }
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#unsubscribe(this)
    this.#wake?.()
  }

  close(): void {
    this.end()
    this.#queue = []
  }

  async next(): Promise<IteratorResult<TopicMessage<T>>> {
    for (;;) {
      if (this.#done) return { done: true, value: undefined }
      const message = this.#queue.shift()
      if (message !== undefined) return { done: false, value: message }
      if (this.#ending !== undefined) {
        this.#done = true
        if (this.#ending.error !== undefined) throw this.#ending.error
        return { done: true, value: undefined }
      }
      await new Promise<void>((resolve) => (this.#wake = resolve))
      this.#wake = undefined
    }
  }

  async return(): Promise<IteratorResult<TopicMessage<T>>> {
    this.close()
    this.#done = true
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
