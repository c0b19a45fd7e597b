// The line of claims lib/server/claims.ts keeps, with the grants apart and a count of claims per key,
// so that what a transaction asks of the line costs in its own keys, not in the length of the line (a
// hot key can have a claim of every session waiting for it). Served sessions that had a turn least
// recently first (one that never had one first of all), then in order of arrival: a session that
// queues again right after its turn goes behind those that had none since. Sessions cost nothing to
// open, so many of them taking turns on a key without end would otherwise make a newcomer wait for a
// turn of each, however little they do with their turns; now it waits for about one.
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
  // Its place in line, set when it is added: its session's last turn (0: none yet); among equals,
  // it goes behind those already there.
  turn: number
}

export class ClaimLine {
  readonly #all = new Set<Claim>()
  // Every claim, in the order they are served.
  #order: Claim[] = []
  // The number of each session's last turn: turns are counted from 1.
  readonly #lastTurn = new WeakMap<Session, number>()
  #turns = 0
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

  // In the order they are served; one removed meanwhile is skipped.
  *[Symbol.iterator](): IterableIterator<Claim> {
    for (const claim of this.#order) if (this.#all.has(claim)) yield claim
  }

  grants(): IterableIterator<Claim> {
    return this.#granted.values()
  }

  of(session: Session): Claim | undefined {
    return this.#bySession.get(session)
  }

  add(claim: Claim): void {
    const turn = (claim.turn = this.#lastTurn.get(claim.session) ?? 0)
    // Behind every claim of a session whose last turn came no later.
    let low = 0
    let high = this.#order.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#order[middle]!.turn <= turn) low = middle + 1
      else high = middle
    }
    // A copy: an iteration under way goes on over the line as it was.
    this.#order = this.#order.toSpliced(low, 0, claim)
    this.#all.add(claim)
    this.#bySession.set(claim.session, claim)
    if (claim.waiting === undefined) this.#granted.add(claim)
    this.#count(claim, 1)
  }

  remove(claim: Claim): void {
    if (!this.#all.delete(claim)) return
    this.#order = this.#order.filter((other) => other !== claim)
    if (this.#bySession.get(claim.session) === claim) this.#bySession.delete(claim.session)
    this.#granted.delete(claim)
    this.#count(claim, -1)
  }

  // A waiting claim's turn came.
  grant(claim: Claim): void {
    claim.waiting = undefined
    this.#granted.add(claim)
    this.#lastTurn.set(claim.session, ++this.#turns)
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

  // Empties the line; what it held, in the order they were served.
  clear(): Claim[] {
    const claims = [...this]
    this.#all.clear()
    this.#order = []
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
