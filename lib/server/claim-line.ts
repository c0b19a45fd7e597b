// The line of claims lib/server/claims.ts keeps: in order of arrival, with the grants apart and a
// count of claims per key, so that what a transaction asks of the line costs in its own keys, not in
// the length of the line (a hot key can have a claim of every session waiting for it).
import type { Transaction } from './operations.ts'
import type { Session } from './sessions.ts'

export interface Claim {
  readonly session: Session
  // The request id of the transaction that queued it: the client names it to use the claim.
  readonly id: number
  readonly keys: ReadonlySet<string>
  // It enumerated the keys: it claims every key.
  readonly keySpace: boolean
  // Waiting: the transaction, tried again when its turn comes, and the revision at which it last
  // conflicted (no need to try it again before another commit). Granted: undefined.
  waiting: Transaction | undefined
  triedAt: number
  // Granted: from when it lapses if another transaction wants its keys.
  until: number
}

export class ClaimLine {
  // Every claim, in order of arrival (a Set iterates in insertion order).
  readonly #all = new Set<Claim>()
  readonly #granted = new Set<Claim>()
  readonly #bySession = new Map<Session, Claim>()
  // How many claims hold or await each key; claims of every key are counted apart.
  readonly #perKey = new Map<string, number>()
  #everyKey = 0

  get size(): number {
    return this.#all.size
  }

  // Claims of every key (their transactions enumerated the keys), waiting or granted.
  get everyKey(): number {
    return this.#everyKey
  }

  // Claims waiting for their turn.
  get waiting(): number {
    return this.#all.size - this.#granted.size
  }

  // In order of arrival.
  [Symbol.iterator](): IterableIterator<Claim> {
    return this.#all.values()
  }

  grants(): IterableIterator<Claim> {
    return this.#granted.values()
  }

  of(session: Session): Claim | undefined {
    return this.#bySession.get(session)
  }

  add(claim: Claim): void {
    this.#all.add(claim)
    this.#bySession.set(claim.session, claim)
    if (claim.waiting === undefined) this.#granted.add(claim)
    this.#count(claim, 1)
  }

  remove(claim: Claim): void {
    if (!this.#all.delete(claim)) return
    if (this.#bySession.get(claim.session) === claim) this.#bySession.delete(claim.session)
    this.#granted.delete(claim)
    this.#count(claim, -1)
  }

  // A waiting claim's turn came.
  grant(claim: Claim): void {
    claim.waiting = undefined
    this.#granted.add(claim)
  }

  // Whether a claim other than `except` holds or awaits `key`.
  claimed(key: string, except: Claim | undefined): boolean {
    if (this.#everyKey - (except?.keySpace === true ? 1 : 0) > 0) return true
    const mine = except?.keySpace === false && except.keys.has(key) ? 1 : 0
    return (this.#perKey.get(key) ?? 0) - mine > 0
  }

  // Whether another claim holds or awaits a key of `claim`.
  contended(claim: Claim): boolean {
    if (claim.keySpace) return this.#all.size > (this.#all.has(claim) ? 1 : 0)
    for (const key of claim.keys) if (this.claimed(key, claim)) return true
    return false
  }

  // Empties the line; what it held, in order of arrival.
  clear(): Claim[] {
    const claims = [...this.#all]
    this.#all.clear()
    this.#granted.clear()
    this.#bySession.clear()
    this.#perKey.clear()
    this.#everyKey = 0
    return claims
  }

  #count(claim: Claim, by: 1 | -1): void {
    if (claim.keySpace) {
      this.#everyKey += by
      return
    }
    for (const key of claim.keys) {
      const count = (this.#perKey.get(key) ?? 0) + by
      if (count === 0) this.#perKey.delete(key)
      else this.#perKey.set(key, count)
    }
  }
}
