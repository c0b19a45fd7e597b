// waitForService at the server: requests answered once a service has enough providers.
import type { Session } from './sessions.ts'

interface Wait {
  readonly session: Session
  readonly requestId: number
  readonly name: string
  readonly providers: number
}

export class ServiceWaits {
  readonly #byName = new Map<string, Set<Wait>>()
  readonly #bySession = new Map<Session, Map<number, Wait>>()

  add(session: Session, requestId: number, name: string, providers: number): void {
    const wait: Wait = { session, requestId, name, providers }
    let mine = this.#bySession.get(session)
    if (mine === undefined) this.#bySession.set(session, (mine = new Map<number, Wait>()))
    mine.set(requestId, wait)
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
    waits?.delete(wait)
    if (waits?.size === 0) this.#byName.delete(wait.name)
    const mine = this.#bySession.get(wait.session)
    mine?.delete(wait.requestId)
    if (mine?.size === 0) this.#bySession.delete(wait.session)
  }
}
