// One owner loop per socket: zeromq.js allows a single pending send, so every send goes through here.
import { deferred, type Deferred } from './deferred.ts'

export type Message = Buffer | string | (Buffer | string)[]

export class SendQueue {
  readonly #send: (message: Message) => Promise<void>
  readonly #onError: (error: unknown) => void
  #queue: Message[] = []
  #running = false
  #idle: Deferred<void> | undefined

  constructor(send: (message: Message) => Promise<void>, onError: (error: unknown) => void) {
    this.#send = send
    this.#onError = onError
  }

  push(message: Message): void {
    this.#queue.push(message)
    if (!this.#running) void this.#run()
  }

  async #run(): Promise<void> {
    this.#running = true
    while (this.#queue.length > 0) {
      const batch = this.#queue
      this.#queue = []
      for (const message of batch) {
        try {
          await this.#send(message)
        } catch (error) {
          this.#onError(error)
        }
      }
    }
    this.#running = false
    this.#idle?.resolve()
    this.#idle = undefined
  }

  // Resolves once everything queued so far has been handed to the socket.
  drained(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    this.#idle ??= deferred<void>()
    return this.#idle.promise
  }
}
