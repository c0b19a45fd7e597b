// The writes of an etcd gateway's sessions (docs/scale-out.md "How a write goes through etcd"): a
// session's queued writes are worked out on the replica, in order, and sent as one etcd transaction
// that applies only if nothing they read has changed since; if something has, they are worked out
// again once the replica has caught up. A session has one transaction in etcd at a time, so its
// writes commit in order. Their commit comes back through the watch, which acknowledges them.
import { ConflictError, ErrorCode, ZStateError } from '../../errors.ts'
import { encode } from '../../protocol/codec.ts'
import { ChangeKind, NO_REPLY, type WireChange } from '../../protocol/ops.ts'
import type { Commit } from '../operations.ts'
import { errorReply, okReply } from '../replies.ts'
import type { Session } from '../sessions.ts'
import type { StoreView } from '../store.ts'
import { ETCD_REQUEST_MS, credentialsRefused, unavailable, within, type EtcdGateway } from './gateway.ts'
import { Overlay } from './overlay.ts'
import { ReadSet } from './read-set.ts'
import { failedAt, transaction, type Staged } from './txn.ts'
import { HeldBound } from '../held-bound.ts'

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

// A frame whose writes wait for etcd, counted whole (its writes' values live in its decoding) from
// its first write queued until its last one settled.
interface FrameHeld {
  readonly bytes: number
  jobs: number
}

interface Job {
  readonly id: number
  // When it was queued (Date.now()).
  readonly arrived: number
  // The frame it came in (none for the server's own writes).
  readonly frame?: FrameHeld
  readonly evaluate: Evaluate
  // A revision the replica must have before the write is worked out (a transaction's base).
  readonly base: number
  // A clear's prefix ('' for every key): sent in a transaction of its own, as one range deletion
  // (etcd refuses a range deletion and a put of a key in it in one transaction).
  readonly clear: string | undefined
}

// One write of a batch, worked out: its changes (none: it commits nothing), or its reply.
interface Outcome {
  readonly job: Job
  readonly staged: (Staged & { result: unknown }) | undefined
  readonly payload: unknown[] | undefined
  readonly failure: unknown
}

// A session's queued writes go to etcd together, as one transaction and one commit, up to these.
const MAX_BATCH_WRITES = 100
const MAX_BATCH_BYTES = 512 * 1024
// Keys one transaction may read and write: etcd takes at most 128 compares, and as many operations
// (its --max-txn-ops), and a transaction adds a few keys of its own.
const MAX_BATCH_KEYS = 120

// How long a write whose conflict the replica cannot see yet waits for the next commit.
const UNSEEN_CHANGE_MS = 20

// Attempts before a write that keeps meeting concurrent changes is refused with ERR_CONFLICT.
const MAX_ATTEMPTS = 100

// What a frame of a write weighs, for the bound on writes waiting for etcd.
export interface WriteFrame {
  readonly bytes: number
}

export class EtcdWrites {
  readonly #gateway: EtcdGateway
  // The last sweep of expired keys failed: its warning was given.
  #sweepFailing = false
  readonly #answer: (session: Session, id: number, reply: Buffer) => void
  readonly #queues = new Map<Session, Job[]>()
  // The frames of the writes waiting for etcd, per session and in all: a session that sends writes
  // faster than etcd takes them is refused (ERR_OVERFLOW) past its bound, not queued without end.
  readonly #held: HeldBound
  readonly #frames = new WeakMap<WriteFrame, FrameHeld>()
  // The revision of each session's last commit: its next writes are worked out on a replica that has it.
  readonly #last = new WeakMap<Session, number>()
  // The writes of each transaction sent and not yet seen committed, by the number its commit names.
  readonly #sent = new Map<number, SentWrite[]>()
  #serial = 0
  // Conflicting attempts so far, and writes refused ERR_UNAVAILABLE (STATS).
  conflicts = 0
  unavailable = 0

  // `maxMessageBytes`: the server's; a session's waiting writes may come in frames of twice that, all
  // sessions' in frames of 16 times.
  constructor(
    gateway: EtcdGateway,
    answer: (session: Session, id: number, reply: Buffer) => void,
    maxMessageBytes: number,
  ) {
    this.#gateway = gateway
    this.#answer = answer
    this.#held = new HeldBound(
      'the write: too many writes wait for etcd (bytes of the messages they came in)',
      2 * maxMessageBytes,
      16 * maxMessageBytes,
    )
  }

  // Queues a write of `session` that came in `frame`; throws ERR_OVERFLOW when the frames of its
  // writes waiting for etcd are too many (nothing queued).
  submit(
    session: Session,
    id: number,
    frame: WriteFrame,
    evaluate: Evaluate,
    base = 0,
    clear?: string,
  ): void {
    let held = this.#frames.get(frame)
    if (held === undefined) {
      this.#held.take(session, frame.bytes)
      held = { bytes: frame.bytes, jobs: 0 }
      this.#frames.set(frame, held)
    }
    held.jobs++
    const queue = this.#queues.get(session)
    const job = { id, arrived: Date.now(), evaluate, base, clear, frame: held }
    if (queue !== undefined) {
      queue.push(job)
      return
    }
    this.#queues.set(session, [job])
    void this.#work(session)
  }

  // The writes whose commit names this gateway and `write`, taken off the list.
  committed(write: number): SentWrite[] | undefined {
    const sent = this.#sent.get(write)
    this.#sent.delete(write)
    return sent
  }

  // A forgotten session: its queued writes are dropped (nobody is left to answer).
  drop(session: Session): void {
    const queue = this.#queues.get(session)
    if (queue !== undefined) this.#release(session, queue.splice(1))
  }

  // The server's own commits (ttl expiry): deletes of keys that still exist, or nothing if another
  // gateway got there first. Any number of keys may come due together: each transaction deletes
  // at most MAX_BATCH_KEYS of them, as etcd takes no more operations in one.
  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let from = 0; from < keys.length; from += MAX_BATCH_KEYS) {
      const some = keys.slice(from, from + MAX_BATCH_KEYS)
      // Worked out again after a conflict, on a replica that has caught up: a key written again
      // meanwhile (a fresh ttl, or none: permanent) is no longer due, and stays.
      const evaluate: Evaluate = (view, commit) => {
        const now = Date.now()
        const { leases } = this.#gateway.store
        const due = some.filter((key) => view.has(key) && leases.isExpired(key, now))
        return due.length === 0 ? [] : [commit(due.map((key) => [key, ChangeKind.DELETE]))]
      }
      await this.#send(
        undefined,
        [{ id: NO_REPLY, arrived: Date.now(), evaluate, base: 0, clear: undefined }],
        { count: 1 },
      ).then(
        () => (this.#sweepFailing = false),
        (error: unknown) => {
          // Due again at the next sweep (etcd without quorum, say): the sweep took them off its schedule.
          this.#gateway.store.leases.reschedule(some)
          // Once per outage, not once per sweep.
          if (!this.#sweepFailing)
            process.emitWarning(
              `zstate: deleting expired keys through etcd failed: ${(error as Error).message}; trying again`,
            )
          this.#sweepFailing = true
        },
      )
    }
  }

  async #work(session: Session): Promise<void> {
    const queue = this.#queues.get(session)!
    while (queue.length > 0) {
      const batch = queue.slice(0, queue[0]!.clear === undefined ? MAX_BATCH_WRITES : 1)
      const nextClear = batch.findIndex((job, i) => i > 0 && job.clear !== undefined)
      if (nextClear > 0) batch.length = nextClear
      const replies = await this.#settle(session, batch)
      replies.forEach((reply, i) => {
        if (reply !== undefined && batch[i]!.id !== NO_REPLY) this.#answer(session, batch[i]!.id, reply)
      })
      this.#release(session, queue.splice(0, replies.length))
    }
    this.#queues.delete(session)
  }

  // Jobs that settled (or were dropped): a frame none of whose writes wait any more is no longer held.
  #release(session: Session, jobs: readonly Job[]): void {
    for (const { frame } of jobs)
      if (frame !== undefined && --frame.jobs === 0) this.#held.give(session, frame.bytes)
  }

  // Works a batch of writes out until etcd takes them, each seeing those before it. Returns a reply
  // for each write it took (the first ones: what fits one transaction), undefined where the commit
  // answers; if they failed, the failure for each of them (and for none it did not take).
  async #settle(session: Session, jobs: readonly Job[]): Promise<(Buffer | undefined)[]> {
    const taken = { count: jobs.length }
    try {
      return await this.#send(session, jobs, taken)
    } catch (error) {
      const failed = jobs.slice(0, taken.count)
      if (error instanceof ZStateError && error.code === ErrorCode.UNAVAILABLE)
        this.unavailable += failed.length
      return failed.map((job) => errorReply(job.id, error))
    }
  }

  async #send(
    session: Session | undefined,
    jobs: readonly Job[],
    taken: { count: number },
  ): Promise<(Buffer | undefined)[]> {
    const gateway = this.#gateway
    let after = session === undefined ? 0 : (this.#last.get(session) ?? 0)
    for (const job of jobs) after = Math.max(after, job.base)
    // Not reached in time (a base from nowhere): worked out anyway, on what the replica has.
    if (after > gateway.store.revision) await within(gateway.reach(after), ETCD_REQUEST_MS).catch(() => {})
    for (let attempt = 1; ; attempt++) {
      const reads = new ReadSet(gateway.store)
      const outcomes = workOut(jobs, reads, gateway)
      taken.count = outcomes.length
      const replies = (): (Buffer | undefined)[] => outcomes.map(reply)
      const staged = combined(outcomes)
      if (staged === undefined && reads.empty) return replies()
      // Ephemeral keys ride the session's etcd lease. Granting one takes a round trip, during which the
      // replica may move on: the writes are worked out again once it is there.
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
      // etcd known to be down and still not answering: refused unsent, so nothing of it applies. The
      // batch waited since its first write came.
      const answers = gateway.answers(jobs[0]!.arrived)
      if (answers !== true && !(await answers)) {
        throw new ZStateError(
          ErrorCode.UNAVAILABLE,
          'etcd does not answer this gateway (no quorum, or none of its endpoints reachable from here; it took no write of this gateway lately): the write was not sent, nothing of it applied',
        )
      }
      const write = staged === undefined ? 0 : ++this.#serial
      if (staged !== undefined)
        this.#sent.set(
          write,
          outcomes.flatMap(({ job, staged, payload }) =>
            staged === undefined ? [] : [{ session, id: job.id, result: staged.result, payload: payload! }],
          ),
        )
      let response
      try {
        response = await gateway.txn(
          transaction({
            layout: gateway.layout,
            store: gateway.store,
            unreadable: gateway.unreadable,
            keySpaceRevision: gateway.keySpaceRevision,
            reads,
            staged,
            writer: [gateway.id, write],
            lease,
            clear: jobs[0]!.clear,
            fence: gateway.fence,
          }),
        )
      } catch (error) {
        const refused = refusal(error)
        // A transaction that writes nothing (a compareAndSet that does not match, a delete of an absent
        // key) has no outcome to be unsure of.
        const unanswered = (): ZStateError =>
          unavailable(
            error,
            staged === undefined
              ? 'etcd did not answer: nothing of the write applied (it writes nothing)'
              : 'etcd did not answer: the write may or may not have been applied',
          )
        if (refused !== undefined || attempt === MAX_ATTEMPTS) {
          this.#sent.delete(write)
          throw refused ?? unanswered()
        }
        // No answer (a leader election, a lost quorum): the fence moves, so the writes can no longer
        // commit later; once the replica has the fence, their commit is there or never will be. If
        // etcd cannot even move the fence, it counts as down and the writes are refused, as those that
        // write nothing are (sent again and again, each of them waited out its deadline).
        const fenced = await gateway.raiseFence().catch(() => {
          this.#sent.delete(write)
          throw unanswered()
        })
        if (staged !== undefined) {
          await within(gateway.reach(fenced), ETCD_REQUEST_MS)
          if (!this.#sent.has(write)) return replies() // their commit came: acknowledged by it
          this.#sent.delete(write)
        }
        continue
      }
      if (response.succeeded) {
        if (session !== undefined && staged !== undefined)
          this.#last.set(session, Number(response.header.revision))
        return replies()
      }
      // Something they read changed after the replica's revision: work them out again on a replica
      // that has the change. One that no gateway's commit made (a lease's end) has no origin to wait
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

// Works the writes out in order, each on the replica with those before it laid over, as far as one
// transaction takes them: every read of the replica is recorded in `reads`. A write of a key that an
// earlier one of the batch wrote starts the next batch: each write's value gets a revision of its own.
function workOut(jobs: readonly Job[], reads: ReadSet, gateway: EtcdGateway): Outcome[] {
  // A write alone (an awaited one) is worked out on the replica itself: nothing of a batch to lay
  // over it, nothing to weigh.
  if (jobs.length === 1) return [evaluate(jobs[0]!, reads)]
  const overlay = new Overlay(reads, gateway.store)
  const outcomes: Outcome[] = []
  const written = new Set<string>()
  let bytes = 0
  for (const job of jobs) {
    const outcome = evaluate(job, overlay)
    const { staged } = outcome
    if (staged !== undefined) {
      const keys = staged.changes.map((change) => change[0]!)
      bytes += stagedBytes(staged)
      const full = bytes > MAX_BATCH_BYTES || written.size + keys.length + reads.read.size > MAX_BATCH_KEYS
      if (outcomes.length > 0 && (full || keys.some((key) => written.has(key)))) break
      for (const key of keys) written.add(key)
      overlay.stage(staged.changes, staged.patched)
    }
    outcomes.push(outcome)
  }
  return outcomes
}

// One write worked out on `view`: the changes it stages and its reply payload, or its failure.
function evaluate(job: Job, view: StoreView): Outcome {
  let staged: (Staged & { result: unknown }) | undefined
  let payload: unknown[] | undefined
  let failure: unknown
  try {
    payload = job.evaluate(view, (changes, patched, result) => {
      staged = { changes, patched, result }
      return 0
    })
  } catch (error) {
    failure = error
  }
  return { job, staged, payload, failure }
}

// The batch's changes as one: in order (the last write of a key wins), PATCH results merged.
function combined(outcomes: readonly Outcome[]): Staged | undefined {
  if (outcomes.length === 1) return outcomes[0]!.staged
  const changes: WireChange[] = []
  let patched: Map<string, unknown> | undefined
  for (const { staged } of outcomes) {
    if (staged === undefined) continue
    changes.push(...staged.changes)
    if (staged.patched !== undefined) {
      patched ??= new Map()
      for (const [key, value] of staged.patched) patched.set(key, value)
    }
  }
  return changes.length === 0 ? undefined : { changes, patched }
}

// About what a write's values take in the transaction.
function stagedBytes(staged: Staged): number {
  let bytes = 0
  for (const change of staged.changes)
    bytes +=
      64 +
      (change[1] === ChangeKind.SET ? encode(change[2]).length : change[1] === ChangeKind.PATCH ? 256 : 0)
  return bytes
}

// A write's reply once its batch is in: none where its commit answers.
function reply({ job, staged, payload, failure }: Outcome): Buffer | undefined {
  if (staged !== undefined) return undefined
  return failure !== undefined ? errorReply(job.id, failure) : okReply(job.id, payload!)
}

// What etcd refused outright, so that nothing of it applied; undefined for an error that leaves the
// outcome unknown (no answer, no leader, a lost connection).
function refusal(error: unknown): ZStateError | undefined {
  const kind = (error as object | null)?.constructor?.name
  const message = (error as Error).message
  const refused = kind === 'GRPCInvalidArgumentError' || kind === 'GRPCResourceExhastedError'
  if (refused && /too large|larger than max/.test(message))
    return new ZStateError(ErrorCode.TOO_LARGE, `etcd refused the write: ${message}`, { cause: error })
  if (refused && /too many operations/.test(message))
    return new ZStateError(
      ErrorCode.TOO_LARGE,
      `etcd refused the write: ${message} (a write through a gateway reads and writes at most ${MAX_BATCH_KEYS} keys, etcd's --max-txn-ops allowing)`,
      { cause: error },
    )
  if (credentialsRefused(error)) return unavailable(error, 'etcd refused the write')
  if (refused && /database space exceeded/.test(message))
    return new ZStateError(
      ErrorCode.UNAVAILABLE,
      `etcd refused the write: its database is full (${message}), nothing of it applied; etcd takes writes again once compacted, defragmented and its NOSPACE alarm disarmed (docs/scale-out.md)`,
      { cause: error },
    )
  if (refused || kind === 'GRPCFailedPreconditionError')
    return new ZStateError(ErrorCode.UNAVAILABLE, `etcd refused the write: ${message}`, { cause: error })
  return undefined
}

function isEphemeral(change: WireChange): boolean {
  return change[1] === ChangeKind.SET && change.length === 4 && change[3][0] === true
}
