// Turns on contended keys (docs/transactions.md, "Contention"). A transaction that conflicts is
// re-run by its client; on a hot key those re-runs race, and a client can lose again and again while
// the others win. A transaction that asks to queue gets a claim instead: the keys it touched, held
// by one claim at a time, granted in turn (lib/server/claim-line.ts: those that had a turn least
// recently first, then in order of arrival). A waiting claim's transaction is tried again
// when its turn comes; if it still conflicts, the claim is granted and its client re-runs fn from the
// granted revision, and its next transaction, naming the claim, releases it. While keys are claimed,
// other transactions that write them wait in line too (or conflict, if they may not queue).
// Claims only order transactions: every commit is still checked against its base, so a grant that
// lapses (HOLD_MS after it was granted, once another transaction wants its keys) or a write that is
// no transaction (set, increment) costs a re-run, never serializability. A session has at most one
// claim, so a client cannot fill the line.
import { ConflictError } from '../errors.ts'
import { NO_REPLY } from '../protocol/ops.ts'
import { ClaimLine, type Claim } from './claim-line.ts'
import type { Transaction } from './operations.ts'
import type { Session } from './sessions.ts'

// How long a granted claim holds its keys at least, if other transactions want them, while at most
// HOLD_LINE claims wait; beyond, the turns of a line are shorter, so that a line of any length takes
// about HOLD_LINE turns' time to go round however its sessions use their turns (sessions cost nothing
// to open), yet never under MIN_HOLD_MS: a client needs a round trip to use its turn.
export const HOLD_MS = 50
const HOLD_LINE = 8
const MIN_HOLD_MS = 2

export interface ClaimsHost {
  // Runs a transaction now: its reply, or undefined when its commit acknowledges it; throws
  // ConflictError (or any other error of the request).
  run(session: Session, id: number, txn: Transaction): Buffer | undefined
  // Answers a request outside its own handling (a waiting claim's turn came).
  answer(session: Session, id: number, result: Buffer | undefined | Error): void
  // The reply that grants a claim: its client re-runs fn from `revision`.
  granted(id: number, revision: number): Buffer
  revision(): number
}

export class Claims {
  readonly #host: ClaimsHost
  readonly #line = new ClaimLine()
  #timer: NodeJS.Timeout | undefined
  // When the timer fires.
  #timerAt = 0
  // For STATS: turns granted, and granted turns that lapsed unused, since the server started.
  granted = 0
  lapsed = 0

  constructor(host: ClaimsHost) {
    this.#host = host
  }

  // Transactions waiting their turn now.
  get waiting(): number {
    return this.#line.waiting
  }

  // Handles a transaction: its reply, or undefined when its commit acknowledges it or it waits in line.
  transaction(session: Session, id: number, txn: Transaction): Buffer | undefined {
    if (this.#line.size === 0 && !txn.queue) return this.#host.run(session, id, txn)
    const own = this.#line.of(session)
    // Without a reply (request id 0) it could not learn of its turn. And one claim of every key at
    // most is in line: each holds every writer back for up to HOLD_MS, and sessions cost nothing to
    // open, so a line of them would hold everyone back without end; another one races instead.
    if (txn.queue && (id === NO_REPLY || (txn.keySpace && this.#line.everyKey > (own?.keySpace ? 1 : 0))))
      txn = { ...txn, queue: false }
    this.#lapseFor(txn, session)
    const holding = own !== undefined && own.waiting === undefined && own.id === txn.held
    try {
      // A claim holder goes ahead of those waiting for its keys.
      if (this.#heldBack(txn, own, holding)) {
        // (A holder's own claim goes in `finally`.)
        if (txn.queue && (own === undefined || holding)) {
          this.#wait(session, id, txn, -1)
          return undefined
        }
        throw new ConflictError(
          'transaction: keys it writes are claimed by another transaction in line',
          [...txn.touched].filter((key) => this.#line.claimed(key, own)),
          this.#host.revision(),
        )
      }
      return this.#run(session, id, txn, own, holding)
    } finally {
      // Whatever became of it, the holder's transaction ends its turn.
      if (holding) this.#end(own)
    }
  }

  // A session that ends gives up its claim.
  drop(session: Session): void {
    const claim = this.#line.of(session)
    if (claim !== undefined) this.#end(claim)
  }

  // A claim ends (if it is still in line), and the line moves on.
  #end(claim: Claim): void {
    this.#line.remove(claim)
    this.#serve()
  }

  // The store is read back (a failed write to the data dir): waiting transactions get `error`, grants end.
  clear(error: Error): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const claim of this.#line.clear())
      if (claim.waiting !== undefined) this.#host.answer(claim.session, claim.id, error)
  }

  close(): void {
    clearTimeout(this.#timer)
  }

  // Whether txn's writes must wait for a claim other than its session's: any claim on a key it
  // writes, or for a holder only another grant (its re-run may touch keys it did not claim).
  #heldBack(txn: Transaction, own: Claim | undefined, holding: boolean): boolean {
    if (txn.changes.length === 0) return false
    if (!holding) return txn.changes.some(([key]) => this.#line.claimed(key!, own))
    for (const grant of this.#line.grants()) if (grant !== own && writesInto(txn, grant)) return true
    return false
  }

  // Runs a transaction whose keys are free for it: on a conflict, one that may queue waits in line
  // (granted at once if nothing holds or awaits its keys).
  #run(
    session: Session,
    id: number,
    txn: Transaction,
    own: Claim | undefined,
    holding: boolean,
  ): Buffer | undefined {
    try {
      return this.#host.run(session, id, txn)
    } catch (error) {
      if (!(error instanceof ConflictError) || !txn.queue || (own !== undefined && !holding)) throw error
      if (holding) this.#line.remove(own!)
      const claim = this.#wait(session, id, txn, this.#host.revision())
      if (this.#line.contended(claim)) return undefined
      this.#grant(claim)
      return this.#host.granted(id, this.#host.revision())
    }
  }

  // Grants past their time that txn's writes would wait for lapse now, and the line moves on.
  #lapseFor(txn: Transaction, session: Session): void {
    this.#lapseWhere(
      (grant, now) => grant.session !== session && grant.until <= now && writesInto(txn, grant),
    )
  }

  #wait(session: Session, id: number, txn: Transaction, triedAt: number): Claim {
    const claim: Claim = {
      session,
      id,
      keys: txn.touched,
      keySpace: txn.keySpace,
      waiting: txn,
      triedAt,
      until: 0,
      turn: 0,
    }
    this.#line.add(claim)
    this.#arm()
    return claim
  }

  #grant(claim: Claim): void {
    this.granted++
    this.#line.grant(claim)
    const waiting = this.#line.waiting
    claim.until =
      Date.now() + (waiting <= HOLD_LINE ? HOLD_MS : Math.max(MIN_HOLD_MS, (HOLD_MS * HOLD_LINE) / waiting))
    this.#arm()
  }

  // Gives waiting claims whose keys are free their turn, in order of arrival: each one's transaction
  // is tried again, and the claim granted if it still conflicts. A claim that must wait keeps its
  // keys from those behind it.
  #serve(): void {
    const busy = new Set<string>()
    let everyKeyBusy = false
    const occupy = (claim: Claim): void => {
      if (claim.keySpace) everyKeyBusy = true
      else for (const key of claim.keys) busy.add(key)
    }
    const isBusy = (claim: Claim): boolean => {
      if (everyKeyBusy || (claim.keySpace && busy.size > 0)) return true
      for (const key of claim.keys) if (busy.has(key)) return true
      return false
    }
    for (const grant of this.#line.grants()) occupy(grant)
    for (const claim of this.#line) {
      const txn = claim.waiting
      if (txn === undefined) continue
      if (isBusy(claim)) {
        occupy(claim)
        continue
      }
      const revision = this.#host.revision()
      if (claim.triedAt !== revision) {
        let result: Buffer | undefined | Error
        try {
          result = this.#host.run(claim.session, claim.id, txn)
        } catch (error) {
          result = error as Error
        }
        if (!(result instanceof ConflictError)) {
          this.#line.remove(claim)
          this.#host.answer(claim.session, claim.id, result)
          continue
        }
      }
      this.#grant(claim)
      this.#host.answer(claim.session, claim.id, this.#host.granted(claim.id, revision))
      occupy(claim)
    }
    this.#arm()
  }

  // The grants that `overdue` picks lapse; if any did, the line moves on.
  #lapseWhere(overdue: (grant: Claim, now: number) => boolean): void {
    const now = Date.now()
    let lapsed = 0
    // A Set's iterator skips what is deleted behind it and goes on.
    for (const grant of this.#line.grants())
      if (overdue(grant, now)) {
        this.#line.remove(grant)
        lapsed++
      }
    if (lapsed === 0) return
    this.lapsed += lapsed
    this.#serve()
  }

  // A timer for the earliest grant that others wait for. One already due no later is kept: when it
  // fires, it lapses what is overdue and sets the next (so a line that keeps moving does not make a
  // timer per grant).
  #arm(): void {
    let until = Infinity
    for (const grant of this.#line.grants())
      if (grant.until < until && this.#line.contended(grant)) until = grant.until
    if (until === Infinity || (this.#timer !== undefined && this.#timerAt <= until)) return
    clearTimeout(this.#timer)
    this.#timerAt = until
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, until - Date.now()))
    this.#timer.unref()
  }

  // A grant whose time is up lapses if another claim waits for its keys (grants never share keys).
  #expire(): void {
    this.#timer = undefined
    this.#lapseWhere((grant, now) => grant.until <= now && this.#line.contended(grant))
    this.#arm()
  }
}

function writesInto(txn: Transaction, claim: Claim): boolean {
  return claim.keySpace ? txn.changes.length > 0 : txn.changes.some(([key]) => claim.keys.has(key!))
}
