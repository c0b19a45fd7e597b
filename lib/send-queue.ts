// One owner loop per socket: zeromq.js allows a single pending send, so every send goes through here.
// Each send starts once the one before it has settled. Callbacks rather than an async loop: a loop
// started per message (the server publishes a message per turn) was the largest part of the
// server's garbage per awaited write.
import { deferred, type Deferred } from './deferred.ts'

export type Message = Buffer | string | (Buffer | string)[]

export class SendQueue {
  readonly #send: (message: Message) => Promise<void>
  readonly #onError: (error: unknown) => void
  // Waiting messages from #head on; those before it were sent and let go.
  #queue: (Message | undefined)[] = []
  #head = 0
  #running = false
  #idle: Deferred<void> | undefined

  constructor(send: (message: Message) => Promise<void>, onError: (error: unknown) => void) {
    this.#send = send
    this.#onError = onError
  }

  push(message: Message): void {
    if (this.#running) this.#queue.push(message)
    else {
      this.#running = true
      this.#start(message)
    }
  }

  // Resolves once everything queued so far has been handed to the socket.
  drained(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    this.#idle ??= deferred<void>()
    return this.#idle.promise
  }

  #start(message: Message): void {
    let sending: Promise<void>
    try {
      sending = this.#send(message)
    } catch (error) {
      sending = Promise.reject(error)
    }
    sending.then(this.#next, this.#failed)
  }

  readonly #failed = (error: unknown): void => {
    this.#onError(error)
    this.#next()
  }

  readonly #next = (): void => {
    if (this.#head < this.#queue.length) {
      const message = this.#queue[this.#head]!
      this.#queue[this.#head++] = undefined
      return this.#start(message)
    }
    this.#queue = []
    this.#head = 0
    this.#running = false
    this.#idle?.resolve()
    this.#idle = undefined
  }
}
