// Turns on contended keys (docs/transactions.md, "Contention"). A transaction that conflicts is
// re-run by its client; on a hot key those re-runs race, and a client can lose again and again while
// the others win. A transaction that asks to queue gets a claim instead: the keys it touched, held
// by one claim at a time, granted in order of arrival. A waiting claim's transaction is tried again
// when its turn comes; if it still conflicts, the claim is granted and its client re-runs fn from the
// granted revision, and its next transaction, naming the claim, releases it. While keys are claimed,
// other transactions that write them wait in line too (or conflict, if they may not queue).
// Claims only order transactions: every commit is still checked against its base, so a grant that
// lapses (HOLD_MS after it was granted, once another transaction wants its keys) or a write that is
// no transaction (set, increment) costs a re-run, never serializability. A session has at most one
// claim, so a client cannot fill the line.
import { ConflictError } from '../errors.ts'
import { NO_REPLY } from '../protocol/ops.ts'
import type { Transaction } from './operations.ts'
import type { Session } from './sessions.ts'

// How long a granted claim holds its keys at least, if other transactions want them.
export const HOLD_MS = 50

interface Claim {
  readonly session: Session
  // The request id of the transaction that queued it: the client names it to use the claim.
  readonly id: number
  readonly keys: ReadonlySet<string>
  readonly keySpace: boolean
  // Waiting: the transaction, tried again when its turn comes, and the revision at which it last
  // conflicted (no need to try it again before another commit). Granted: undefined.
  waiting: Transaction | undefined
  triedAt: number
  // Granted: from when it lapses if another transaction wants its keys.
  until: number
}

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
  // In order of arrival: granted ones and those that wait.
  #line: Claim[] = []
  readonly #bySession = new Map<Session, Claim>()
  #timer: NodeJS.Timeout | undefined
  // For STATS: turns granted, and granted turns that lapsed unused, since the server started.
  granted = 0
  lapsed = 0

  constructor(host: ClaimsHost) {
    this.#host = host
  }

  // Handles a transaction: its reply, or undefined when its commit acknowledges it or it waits in line.
  transaction(session: Session, id: number, txn: Transaction): Buffer | undefined {
    if (this.#line.length === 0 && !txn.queue) return this.#host.run(session, id, txn)
    // Without a reply (request id 0) it could not learn of its turn.
    if (id === NO_REPLY && txn.queue) txn = { ...txn, queue: false }
    this.#lapseFor(txn, session)
    const own = this.#bySession.get(session)
    const holding = own !== undefined && own.waiting === undefined && own.id === txn.held
    try {
      // A claim holder goes ahead of those waiting for its keys.
      const blocker = this.#blocker(txn, session, holding)
      if (blocker !== undefined) {
        if (txn.queue && (own === undefined || holding)) {
          if (holding) this.#remove(own)
          this.#wait(session, id, txn, -1)
          return undefined
        }
        throw new ConflictError(
          'transaction: keys it writes are claimed by another transaction in line',
          [...txn.touched].filter((key) => blocker.keySpace || blocker.keys.has(key)),
          this.#host.revision(),
        )
      }
      return this.#run(session, id, txn, own, holding)
    } finally {
      // Whatever became of it, the holder's transaction ends its turn.
      if (holding) {
        if (this.#bySession.get(session) === own) this.#remove(own)
        this.#serve()
      }
    }
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
      if (holding) this.#remove(own!)
      this.#wait(session, id, txn, this.#host.revision())
      const claim = this.#bySession.get(session)!
      if (!this.#line.some((other) => other !== claim && overlaps(other, claim))) {
        this.#grant(claim)
        return this.#host.granted(id, this.#host.revision())
      }
      return undefined
    }
  }

  // A session that ends gives up its claim.
  drop(session: Session): void {
    const claim = this.#bySession.get(session)
    if (claim === undefined) return
    this.#remove(claim)
    this.#serve()
  }

  // The store is read back (a failed write to the data dir): waiting transactions get `error`, grants end.
  clear(error: Error): void {
    const line = this.#line
    this.#line = []
    this.#bySession.clear()
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const claim of line)
      if (claim.waiting !== undefined) this.#host.answer(claim.session, claim.id, error)
  }

  close(): void {
    clearTimeout(this.#timer)
  }

  // Transactions waiting their turn now.
  get waiting(): number {
    let count = 0
    for (const claim of this.#line) if (claim.waiting !== undefined) count++
    return count
  }

  // The claim (other than `session`'s) that a write of txn's keys must wait for.
  #blocker(txn: Transaction, session: Session, holding: boolean): Claim | undefined {
    for (const claim of this.#line) {
      if (claim.session === session) continue
      // A holder only waits for other grants (its re-run may touch keys it did not claim).
      if (holding && claim.waiting !== undefined) continue
      if (writesInto(txn, claim)) return claim
    }
    return undefined
  }

  // Grants past their time that txn's writes would wait for lapse now, and the line moves on.
  #lapseFor(txn: Transaction, session: Session): void {
    const now = Date.now()
    const overdue = this.#line.filter(
      (claim) =>
        claim.session !== session &&
        claim.waiting === undefined &&
        claim.until <= now &&
        writesInto(txn, claim),
    )
    if (overdue.length === 0) return
    this.#lapse(overdue)
  }

  #wait(session: Session, id: number, txn: Transaction, triedAt: number): void {
    const claim: Claim = {
      session,
      id,
      keys: txn.touched,
      keySpace: txn.keySpace,
      waiting: txn,
      triedAt,
      until: 0,
    }
    this.#line.push(claim)
    this.#bySession.set(session, claim)
    this.#arm()
  }

  #grant(claim: Claim): void {
    this.granted++
    claim.waiting = undefined
    claim.until = Date.now() + HOLD_MS
    this.#arm()
  }

  #remove(claim: Claim): void {
    const index = this.#line.indexOf(claim)
    if (index >= 0) this.#line.splice(index, 1)
    if (this.#bySession.get(claim.session) === claim) this.#bySession.delete(claim.session)
  }

  // Gives waiting claims whose keys are free their turn, in order: each one's transaction is tried
  // again, and the claim granted if it still conflicts.
  #serve(): void {
    const busy: Claim[] = this.#line.filter((claim) => claim.waiting === undefined)
    for (const claim of [...this.#line]) {
      const txn = claim.waiting
      if (txn === undefined) continue
      if (busy.some((other) => overlaps(other, claim))) {
        busy.push(claim)
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
          this.#remove(claim)
          this.#host.answer(claim.session, claim.id, result)
          continue
        }
      }
      this.#grant(claim)
      this.#host.answer(claim.session, claim.id, this.#host.granted(claim.id, revision))
      busy.push(claim)
    }
    this.#arm()
  }

  // A timer for the earliest grant that others wait for, while there is one.
  #arm(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    let until = Infinity
    for (const claim of this.#line)
      if (claim.waiting === undefined && claim.until < until && this.#waitedFor(claim)) until = claim.until
    if (until === Infinity) return
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, until - Date.now()))
    this.#timer.unref()
  }

  #waitedFor(claim: Claim): boolean {
    return this.#line.some((other) => other.waiting !== undefined && overlaps(other, claim))
  }

  #expire(): void {
    this.#timer = undefined
    const now = Date.now()
    // A grant whose time is up lapses if another claim waits for its keys.
    const overdue = this.#line.filter(
      (claim) => claim.waiting === undefined && claim.until <= now && this.#waitedFor(claim),
    )
    this.#lapse(overdue)
  }

  #lapse(grants: Claim[]): void {
    this.lapsed += grants.length
    for (const claim of grants) this.#remove(claim)
    this.#serve()
  }
}

function writesInto(txn: Transaction, claim: Claim): boolean {
  return claim.keySpace ? txn.changes.length > 0 : txn.changes.some(([key]) => claim.keys.has(key!))
}

function overlaps(a: Claim, b: Claim): boolean {
  if (a.keySpace || b.keySpace) return true
  const [small, large] = a.keys.size <= b.keys.size ? [a.keys, b.keys] : [b.keys, a.keys]
  for (const key of small) if (large.has(key)) return true
  return false
}
