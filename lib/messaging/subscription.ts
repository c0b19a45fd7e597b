// subscribe(): the messages of one prefix as an async iterator; break, close() or the signal unsubscribe.
import { ErrorCode, ZStateError } from '../errors.ts'
import type { QueuedIterator } from '../queued-iterator.ts'
import type { Subscription, TopicMessage } from './types.ts'

export class TopicSubscription<T> implements Subscription<T> {
  readonly prefix: string
  ready: Promise<void> = Promise.resolve()
  readonly #messages: QueuedIterator<TopicMessage<T>>

  // `messages`: what Topics pushes into (it holds them weakly: see topics.ts).
  constructor(prefix: string, messages: QueuedIterator<TopicMessage<T>>) {
    this.prefix = prefix
    this.#messages = messages
  }

  get dropped(): number {
    return this.#messages.dropped
  }

  get ended(): boolean {
    return this.#messages.ended
  }

  // Why the subscription ended before it was ready: the signal's reason, or ERR_CLOSED.
  get endReason(): unknown {
    // An abort's reason may be anything, null included; a quiet end has none.
    const reason = this.#messages.reason
    return reason !== undefined ? reason : new ZStateError(ErrorCode.CLOSED, 'the subscription was closed')
  }

  // Ends the stream: with an error (the signal's reason) next() throws it once the queue is empty.
  end(error?: unknown): void {
    this.#messages.end(error)
  }

  close(): void {
    this.#messages.close()
  }

  next(): Promise<IteratorResult<TopicMessage<T>, undefined>> {
    return this.#messages.next()
  }

  return(): Promise<IteratorResult<TopicMessage<T>, undefined>> {
    return this.#messages.return()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#messages[Symbol.asyncDispose]()
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
