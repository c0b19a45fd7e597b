// What sessions hold while it waits (SYNCs for etcd, writes queued for etcd), counted per session and
// in all: beyond either bound, more is refused with ERR_OVERFLOW. Both, as sessions cost nothing to open.
import { ErrorCode, ZStateError } from '../errors.ts'

export class HeldBound {
  readonly #what: string
  readonly #perSession: number
  readonly #inAll: number
  readonly #bySession = new Map<object, number>()
  #total = 0

  // `what`: the refusal's words, e.g. 'sync: too many syncs wait for etcd'.
  constructor(what: string, perSession: number, inAll: number) {
    this.#what = what
    this.#perSession = perSession
    this.#inAll = inAll
  }

  // Counts `amount` more for `session`, or throws ERR_OVERFLOW and counts nothing.
  take(session: object, amount = 1): void {
    const held = this.#bySession.get(session) ?? 0
    if (held + amount > this.#perSession)
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `${this.#what}: this client holds ${held} of ${this.#perSession}`,
      )
    if (this.#total + amount > this.#inAll)
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `${this.#what}: all clients hold ${this.#total} of ${this.#inAll}`,
      )
    this.#bySession.set(session, held + amount)
    this.#total += amount
  }

  give(session: object, amount = 1): void {
    const held = (this.#bySession.get(session) ?? 0) - amount
    if (held > 0) this.#bySession.set(session, held)
    else this.#bySession.delete(session)
    this.#total -= amount
  }
}
