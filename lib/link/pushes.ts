// The change stream of a partial replica (docs/protocol.md "Partial sessions"): no SUB, but pushes on
// the session's own DEALER channel, in order with the replies. Each push, and each reply that vouches
// for a revision (a write's, SYNC's, PING's, a conflict's), becomes a segment: every matching commit
// up to `upTo` has arrived by now. Until released, segments are only buffered, as the Feed buffers
// while the client joins.
import { ErrorCode, ZStateError } from '../errors.ts'
import { isRevision } from '../protocol/frames.ts'
import { Op, Status, type WireCommit } from '../protocol/ops.ts'
import type { Channel } from './channel.ts'
import { readPushedCommits } from './replies.ts'

export interface Segment {
  // Where the link's pushes stood before it: the replica can apply it once it has reached that.
  readonly from: number
  readonly upTo: number
  readonly commits: readonly WireCommit[]
  // The write it acknowledges, settled once the replica has applied it: [requestId, payload].
  readonly settles?: readonly [requestId: number, payload: unknown[]]
}

export interface PushHandlers {
  segment(epoch: string, segment: Segment): void
  // A push did not follow the one before it: what this link delivered cannot be trusted.
  broken(error: ZStateError): void
}

// Writes whose reply [revision, result?] (revision > 0) acknowledges their commit.
const WRITES: ReadonlySet<unknown> = new Set([
  Op.SET,
  Op.DELETE,
  Op.UPDATE,
  Op.CLEAR,
  Op.INCREMENT,
  Op.CAS,
  Op.TXN,
  Op.RUN,
])

export class Pushes {
  #handlers: PushHandlers | undefined
  #buffered: Segment[] = []
  #epoch = ''
  // The `upTo` of the last push (at first, HELLO's revision); -1 until HELLO's reply is read.
  #chain = -1
  // Pushes that came before HELLO's reply (in the same message, ahead of it).
  #early: (readonly unknown[])[] = []
  #failure: ZStateError | undefined

  constructor(channel: Channel) {
    channel.onCommits = (push) => this.#push(push)
    channel.onReply = (op, id, reply) => this.#reply(op, id, reply)
  }

  // HELLO's reply was read: the chain starts at its revision.
  start(epoch: string, revision: number): void {
    this.#epoch = epoch
    this.#chain = revision
    const early = this.#early
    this.#early = []
    for (const push of early) this.#push(push)
  }

  // Starts delivering, beginning with everything buffered; throws if the chain already broke.
  release(handlers: PushHandlers): void {
    if (this.#failure !== undefined) throw this.#failure
    this.#handlers = handlers
    const buffered = this.#buffered
    this.#buffered = []
    for (const segment of buffered) handlers.segment(this.#epoch, segment)
  }

  close(): void {
    this.#handlers = undefined
  }

  #push(raw: readonly unknown[]): void {
    if (this.#failure !== undefined) return
    if (this.#chain < 0) return void this.#early.push(raw)
    let segment: Segment
    try {
      const { epoch, upTo, commits } = readPushedCommits(raw)
      const first = commits[0]
      if (
        epoch !== this.#epoch ||
        upTo < this.#chain ||
        (first !== undefined && first.previous !== this.#chain)
      )
        throw new ZStateError(
          ErrorCode.PROTOCOL,
          `the server pushed commits from revision ${first?.previous ?? upTo}; its last push reached ${this.#chain}`,
        )
      segment = { from: this.#chain, upTo, commits }
      this.#chain = upTo
    } catch (error) {
      this.#failure = error as ZStateError
      return this.#handlers?.broken(this.#failure)
    }
    this.#deliver(segment)
  }

  // A reply, before it settles. True: a write's, settled when its segment is applied.
  #reply(op: Op, id: number, reply: readonly unknown[]): boolean {
    if (this.#chain < 0 || this.#failure !== undefined) return false
    const revision = vouchedFor(op, reply, this.#epoch)
    // 0: a write that committed nothing.
    if (revision === undefined || revision === 0) return false
    // An error (a transaction's conflict) only vouches: the channel rejects its request at once.
    const write = WRITES.has(op) && reply[1] === Status.OK
    this.#deliver({
      from: this.#chain,
      upTo: revision,
      commits: [],
      ...(write ? { settles: [id, reply.slice(2)] as const } : {}),
    })
    return write
  }

  #deliver(segment: Segment): void {
    if (this.#handlers === undefined) this.#buffered.push(segment)
    else this.#handlers.segment(this.#epoch, segment)
  }
}

// The revision a reply shows the server had reached when it answered: every matching commit up to it
// was pushed before the reply. undefined: the reply tells nothing of the kind.
function vouchedFor(op: Op, reply: readonly unknown[], epoch: string): number | undefined {
  const [, status, a, b] = reply
  let revision: unknown
  if (status === Status.OK) {
    // A transaction granted its turn ([0, revision, claim]) vouches for the revision it starts from.
    if (op === Op.TXN && a === 0 && reply.length === 5) revision = b
    else if (WRITES.has(op) || op === Op.PING) revision = a
    else if (op === Op.SYNC && a === epoch) revision = b
  } else if (status === Status.ERROR && op === Op.TXN && a === ErrorCode.CONFLICT) revision = reply[5]
  return isRevision(revision) ? revision : undefined
}
