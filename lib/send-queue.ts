// One owner loop per socket: zeromq.js allows a single pending send, so every send goes through here.
// Each send starts once the one before it has settled. Callbacks rather than an async loop: a loop
// started per message (the server publishes a message per turn) was the largest part of the
// server's garbage per awaited write.
import { deferred, type Deferred } from './deferred.ts'

export type Message = Buffer | string | (Buffer | string)[]

// What is queued is a message, or anything `send` turns into one (the reply sender's tasks).
export class SendQueue<M = Message> {
  // Hands a message to the socket; undefined when there turned out to be nothing to send.
  readonly #send: (message: M) => Promise<void> | undefined
  readonly #onError: (error: unknown, message: M) => void
  readonly #onSent: ((message: M) => void) | undefined
  // Waiting messages from #head on; those before it were sent and let go.
  #queue: (M | undefined)[] = []
  #head = 0
  // The message whose send is in flight.
  #current: M | undefined
  #running = false
  #idle: Deferred<void> | undefined

  constructor(
    send: (message: M) => Promise<void> | undefined,
    onError: (error: unknown, message: M) => void,
    onSent?: (message: M) => void,
  ) {
    this.#send = send
    this.#onError = onError
    this.#onSent = onSent
  }

  push(message: M): void {
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

  // Drops the messages still waiting (the send in flight settles as it will).
  clear(): void {
    this.#queue = []
    this.#head = 0
  }

  // Sends `message`, or the first one after it that has something to send; stops when none has.
  #start(message: M | undefined): void {
    for (; message !== undefined; message = this.#take()) {
      let sending: Promise<void> | undefined
      try {
        sending = this.#send(message)
      } catch (error) {
        sending = Promise.reject(error)
      }
      if (sending === undefined) continue
      this.#current = message
      sending.then(this.#sent, this.#failed)
      return
    }
    this.#current = undefined
    this.#running = false
    this.#idle?.resolve()
    this.#idle = undefined
  }

  #take(): M | undefined {
    if (this.#head < this.#queue.length) {
      const message = this.#queue[this.#head]
      this.#queue[this.#head++] = undefined
      return message
    }
    this.#queue = []
    this.#head = 0
    return undefined
  }

  readonly #sent = (): void => {
    this.#onSent?.(this.#current!)
    this.#start(this.#take())
  }

  readonly #failed = (error: unknown): void => {
    this.#onError(error, this.#current!)
    this.#start(this.#take())
  }
}
