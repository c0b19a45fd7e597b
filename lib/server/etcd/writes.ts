// The writes of an etcd gateway's sessions (docs/scale-out.md "Writes"): each is worked out on the
// replica, then sent as one etcd transaction that applies only if nothing it read has changed since;
// if something has, it is worked out again once the replica has caught up. A session's writes go
// one at a time, in order. Its commit comes back through the watch, which acknowledges it.
import { ConflictError, ErrorCode, ZStateError } from '../../errors.ts'
import { ChangeKind, NO_REPLY, type WireChange } from '../../protocol/ops.ts'
import type { Commit } from '../operations.ts'
import { errorReply, okReply } from '../replies.ts'
import type { Session } from '../sessions.ts'
import type { StoreView } from '../store.ts'
import { ETCD_REQUEST_MS, unavailable, within, type EtcdGateway } from './gateway.ts'
import { ReadSet } from './read-set.ts'
import { failedAt, transaction, type Staged } from './txn.ts'

// An operation, run against the replica: returns the reply payload; `commit` stages its changes.
export type Evaluate = (view: StoreView, commit: Commit) => unknown[]

// A write sent to etcd, until its commit arrives: what the commit acknowledges.
export interface SentWrite {
  readonly session: Session | undefined
  readonly id: number
  readonly result: unknown
  // The reply a partial session gets (its first item, the revision, filled in once known).
  readonly payload: unknown[]
}

interface Job {
  readonly id: number
  readonly evaluate: Evaluate
  // A revision the replica must have before the write is worked out (a transaction's base).
  readonly base: number
}

// How long a write whose conflict the replica cannot see yet waits for the next commit.
const UNSEEN_CHANGE_MS = 20

// Attempts before a write that keeps meeting concurrent changes is refused with ERR_CONFLICT.
const MAX_ATTEMPTS = 100

export class EtcdWrites {
  readonly #gateway: EtcdGateway
  readonly #answer: (session: Session, id: number, reply: Buffer) => void
  readonly #queues = new Map<Session, Job[]>()
  // The revision of each session's last commit: its next write is worked out on a replica that has it.
  readonly #last = new WeakMap<Session, number>()
  readonly #sent = new Map<number, SentWrite>()
  #serial = 0
  // Conflicting attempts so far (STATS).
  conflicts = 0

  constructor(gateway: EtcdGateway, answer: (session: Session, id: number, reply: Buffer) => void) {
    this.#gateway = gateway
    this.#answer = answer
  }

  submit(session: Session, id: number, evaluate: Evaluate, base = 0): void {
    const queue = this.#queues.get(session)
    const job = { id, evaluate, base }
    if (queue !== undefined) {
      queue.push(job)
      return
    }
    this.#queues.set(session, [job])
    void this.#work(session)
  }

  // The write whose commit names this gateway and `write`, taken off the list.
  committed(write: number): SentWrite | undefined {
    const sent = this.#sent.get(write)
    this.#sent.delete(write)
    return sent
  }

  // A forgotten session: its queued writes are dropped (nobody is left to answer).
  drop(session: Session): void {
    this.#queues.get(session)?.splice(1)
  }

  // The server's own commit (ttl expiry, an ended session's ephemeral keys): deletes of keys that
  // still exist, or nothing if another gateway got there first.
  async deleteKeys(keys: readonly string[]): Promise<void> {
    const evaluate: Evaluate = (view, commit) => {
      const present = keys.filter((key) => view.has(key))
      return present.length === 0 ? [] : [commit(present.map((key) => [key, ChangeKind.DELETE]))]
    }
    await this.#settle(undefined, { id: 0, evaluate, base: 0 }).catch((error: unknown) =>
      process.emitWarning(`zstate: deleting expired keys through etcd failed: ${(error as Error).message}`),
    )
  }

  async #work(session: Session): Promise<void> {
    const queue = this.#queues.get(session)!
    while (queue.length > 0) {
      const job = queue[0]!
      try {
        const reply = await this.#settle(session, job)
        if (reply !== undefined && job.id !== NO_REPLY) this.#answer(session, job.id, reply)
      } catch (error) {
        if (job.id !== NO_REPLY) this.#answer(session, job.id, errorReply(job.id, error))
      }
      queue.shift()
    }
    this.#queues.delete(session)
  }

  // Works the write out until etcd takes it. Returns the reply, or undefined when its commit answers.
  async #settle(session: Session | undefined, job: Job): Promise<Buffer | undefined> {
    const gateway = this.#gateway
    const after = Math.max(job.base, session === undefined ? 0 : (this.#last.get(session) ?? 0))
    // Not reached in time (a base from nowhere): worked out anyway, on what the replica has.
    if (after > gateway.store.revision) await within(gateway.reach(after), ETCD_REQUEST_MS).catch(() => {})
    for (let attempt = 1; ; attempt++) {
      const reads = new ReadSet(gateway.store)
      let staged: (Staged & { result: unknown }) | undefined
      let payload: unknown[] | undefined
      let failure: unknown
      try {
        payload = job.evaluate(reads, (changes, patched, result) => {
          staged = { changes, patched, result }
          return 0
        })
      } catch (error) {
        // A conflict with the transaction's own base stays one, however new the replica.
        if (error instanceof ConflictError || reads.empty) throw error
        failure = error
      }
      const outcome = (): Buffer =>
        failure !== undefined ? errorReply(job.id, failure) : okReply(job.id, payload!)
      if (staged === undefined && reads.empty) return outcome()
      // Ephemeral keys ride the session's etcd lease. Granting one takes a round trip, during which the
      // replica may move on: the write is worked out again once it is there.
      let lease: string | undefined
      if (session !== undefined && staged?.changes.some(isEphemeral)) {
        const held = gateway.sessionLease(session)
        if (typeof held !== 'string') {
          await held.catch((error: unknown) => {
            throw unavailable(error, 'etcd did not grant a lease for ephemeral keys')
          })
          attempt--
          continue
        }
        lease = held
      }
      const write = staged === undefined ? 0 : ++this.#serial
      if (staged !== undefined)
        this.#sent.set(write, { session, id: job.id, result: staged.result, payload: payload! })
      let response
      try {
        response = await gateway.txn(
          transaction({
            layout: gateway.layout,
            store: gateway.store,
            keySpaceRevision: gateway.keySpaceRevision,
            reads,
            staged,
            writer: [gateway.id, write],
            lease,
            fence: gateway.fence,
          }),
        )
      } catch (error) {
        const refused = refusal(error)
        if (refused !== undefined || attempt === MAX_ATTEMPTS) {
          this.#sent.delete(write)
          throw (
            refused ?? unavailable(error, 'etcd did not answer: the write may or may not have been applied')
          )
        }
        // No answer (a leader election, a lost quorum): the fence moves, so the write can no longer
        // commit later; once the replica has the fence, its commit is there or never will be. If etcd
        // cannot even move the fence, the write is refused, its outcome unknown.
        if (staged !== undefined) {
          const fenced = await gateway.raiseFence().catch(() => {
            this.#sent.delete(write)
            throw unavailable(error, 'etcd did not answer: the write may or may not have been applied')
          })
          await within(gateway.reach(fenced), ETCD_REQUEST_MS)
          if (!this.#sent.has(write)) return undefined // its commit came: acknowledged by it
          this.#sent.delete(write)
        }
        continue
      }
      if (response.succeeded) {
        if (staged === undefined) return outcome()
        if (session !== undefined) this.#last.set(session, Number(response.header.revision))
        return undefined
      }
      // Something it read changed after the replica's revision: work it out again on a replica that
      // has the change. One that no gateway's commit made (a lease's end) has no origin to wait
      // for: the next commit, or a short pause, comes first.
      this.#sent.delete(write)
      this.conflicts++
      const changedAt = failedAt(response)
      if (attempt === MAX_ATTEMPTS)
        throw new ConflictError(
          `the write met concurrent changes on ${MAX_ATTEMPTS} attempts`,
          [...reads.read],
          changedAt,
        )
      if (changedAt > gateway.store.revision) await within(gateway.reach(changedAt), ETCD_REQUEST_MS)
      else await gateway.nextCommit(UNSEEN_CHANGE_MS)
    }
  }
}

// What etcd refused outright, so that nothing of it applied; undefined for an error that leaves the
// outcome unknown (no answer, no leader, a lost connection).
function refusal(error: unknown): ZStateError | undefined {
  const kind = (error as object | null)?.constructor?.name
  const message = (error as Error).message
  const refused = kind === 'GRPCInvalidArgumentError' || kind === 'GRPCResourceExhastedError'
  if (refused && /too large|larger than max/.test(message))
    return new ZStateError(ErrorCode.TOO_LARGE, `etcd refused the write: ${message}`, { cause: error })
  if (
    refused ||
    kind === 'GRPCFailedPreconditionError' ||
    kind === 'GRPCUnauthenticatedError' ||
    kind === 'EtcdPermissionDeniedError' ||
    kind === 'EtcdAuthenticationFailedError'
  )
    return new ZStateError(ErrorCode.UNAVAILABLE, `etcd refused the write: ${message}`, { cause: error })
  return undefined
}

function isEphemeral(change: WireChange): boolean {
  return change[1] === ChangeKind.SET && change.length === 4 && change[3][0] === true
}
