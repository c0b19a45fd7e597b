// Requests the server refused without applying them (it no longer knew this client's session):
// held in the order they were issued until the client has joined again, then sent first on the new
// link. Each still fails with ERR_TIMEOUT at its own deadline if the rejoin takes too long.
import type { Pending } from './channel.ts'
import { MAX_TIMER_MS } from '../timer-limit.ts'
import { timeoutError, type Refusal } from '../wait.ts'

export class RefusedRequests {
  readonly #timeout: number
  // A rejoin that the server refuses (its key, its protocol version) is named by the timeout.
  readonly #refusal: Refusal
  #held: Pending[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(timeout: number, refusal: Refusal) {
    this.#timeout = timeout
    this.#refusal = refusal
  }

  hold(refused: readonly Pending[]): void {
    if (refused.length === 0) return
    this.#held = this.#held.concat(refused)
    this.#arm()
  }

  // Everything held, oldest first; the caller sends it on.
  take(): Pending[] {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const held = this.#held
    this.#held = []
    return held
  }

  fail(error: unknown): void {
    for (const request of this.take()) request.reject(error)
  }

  #arm(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#held.length === 0) return
    let next = Infinity
    for (const request of this.#held) next = Math.min(next, request.deadline)
    // A deadline beyond the timer's limit is looked at again when the longest timer ends.
    this.#timer = setTimeout(() => this.#expire(), Math.min(MAX_TIMER_MS, Math.max(0, next - Date.now())))
    this.#timer.unref()
  }

  #expire(): void {
    const now = Date.now()
    const expired = this.#held.filter((request) => request.deadline <= now)
    this.#held = this.#held.filter((request) => request.deadline > now)
    this.#arm()
    const refused = this.#refusal()
    for (const request of expired) {
      request.reject(
        timeoutError(
          `request timed out after ${this.#timeout} ms: the server had forgotten this client ` +
            '(it did not apply the request), and rejoining took longer',
          refused,
        ),
      )
    }
  }
}
