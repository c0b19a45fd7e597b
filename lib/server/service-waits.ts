// waitForService at the server: requests answered once a service has enough providers. They wait
// without a reply, so neither the reply budget nor a client that stops reading bounds them: a count
// per session and one in all do (sessions cost nothing to open).
import { ErrorCode, ZStateError } from '../errors.ts'
import type { Session } from './sessions.ts'

export const MAX_SESSION_WAITS = 1_024
export const MAX_WAITS = 16_384

interface Wait {
  readonly session: Session
  readonly requestId: number
  readonly name: string
  readonly providers: number
}

export class ServiceWaits {
  readonly #byName = new Map<string, Set<Wait>>()
  readonly #bySession = new Map<Session, Map<number, Wait>>()
  #count = 0

  // Throws ERR_OVERFLOW when the session, or the server, holds as many waits as it takes.
  add(session: Session, requestId: number, name: string, providers: number): void {
    // A request id used again replaces its wait (the old one would never be answered).
    const previous = this.#bySession.get(session)?.get(requestId)
    if (previous !== undefined) this.#remove(previous)
    let mine = this.#bySession.get(session)
    if ((mine?.size ?? 0) >= MAX_SESSION_WAITS || this.#count >= MAX_WAITS)
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `waitForService: a client may wait for ${MAX_SESSION_WAITS} services at once, the server for ${MAX_WAITS}`,
      )
    const wait: Wait = { session, requestId, name, providers }
    if (mine === undefined) this.#bySession.set(session, (mine = new Map<number, Wait>()))
    mine.set(requestId, wait)
    this.#count++
    let waits = this.#byName.get(name)
    if (waits === undefined) this.#byName.set(name, (waits = new Set()))
    waits.add(wait)
  }

  cancel(session: Session, requestId: number): void {
    const wait = this.#bySession.get(session)?.get(requestId)
    if (wait !== undefined) this.#remove(wait)
  }

  dropSession(session: Session): void {
    for (const wait of this.#bySession.get(session)?.values() ?? []) this.#remove(wait)
  }

  // The waits on `name` that `have` providers satisfy, removed: the caller answers them.
  *satisfied(name: string, have: number): Generator<{ session: Session; requestId: number }> {
    const waits = this.#byName.get(name)
    if (waits === undefined) return
    for (const wait of [...waits]) {
      if (wait.providers > have) continue
      this.#remove(wait)
      yield wait
    }
  }

  #remove(wait: Wait): void {
    const waits = this.#byName.get(wait.name)
    if (waits?.delete(wait) === true) this.#count--
    if (waits?.size === 0) this.#byName.delete(wait.name)
    const mine = this.#bySession.get(wait.session)
    mine?.delete(wait.requestId)
    if (mine?.size === 0) this.#bySession.delete(wait.session)
  }
}
