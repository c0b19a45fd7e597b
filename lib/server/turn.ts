// Group commit: what one turn of the server loop produced (commits, and replies per session),
// sent when the turn ends as one PUB message and one reply message per session; with a dataDir,
// handed to the log first (lib/server/durable.ts), which sends it once it may be heard of.
import { arrayHeader, encodeWithItems } from '../protocol/codec.ts'
import { Channel } from '../protocol/ops.ts'
import { toParts } from '../protocol/parts.ts'
import type { SendQueue } from '../send-queue.ts'
import type { ReplySender } from './reply-sender.ts'
import type { Session } from './sessions.ts'

// One turn's output, ready to go.
export interface TurnOutput {
  // The turn's encoded commits, in revision order, their bytes, and the revision of its last one (or
  // of the store when it has none).
  readonly commits: Buffer[]
  readonly commitBytes: number
  readonly revision: number
  readonly replies: (readonly [Session, Buffer])[]
  // The requests it handled (tracked with a dataDir only): what a failed write to the log refuses.
  readonly requests: (readonly [Session, number])[]
}

// What a turn without commits, or without tracked requests, hands on: shared, never written to.
const NONE: never[] = []

export class Turn {
  readonly #publishing: SendQueue
  readonly #replies: ReplySender
  // The store's epoch, read when sending: a data dir that lost published commits starts a new one.
  readonly #epoch: () => string
  readonly #sessions = new Set<Session>()
  #commits: Buffer[] = []
  #commitBytes = 0
  #requests: (readonly [Session, number])[] = []
  #scheduled = false
  // Whether handled() records requests (a dataDir: a failed log write must answer each of them).
  trackRequests = false
  // Whether anything was published since the last heartbeat check.
  published = false
  // Called as the turn ends, before replies go out: partial sessions' pushes (lib/server/pushes.ts).
  beforeReplies: () => void = () => {}
  // Where a finished turn goes; by default straight out. The revision is the store's at the end.
  deliver: (output: TurnOutput) => void = (output) => this.send(output)
  revision: () => number = () => 0

  constructor(publishing: SendQueue, replies: ReplySender, epoch: () => string) {
    this.#publishing = publishing
    this.#replies = replies
    this.#epoch = epoch
  }

  // The bytes of the commits this turn holds so far.
  get commitBytes(): number {
    return this.#commitBytes
  }

  commit(encoded: Buffer): void {
    this.#commits.push(encoded)
    this.#commitBytes += encoded.length
    this.#schedule()
  }

  // A request that wants a reply was handled in this turn.
  handled(session: Session, id: number): void {
    if (this.trackRequests) this.#requests.push([session, id])
  }

  reply(session: Session, reply: Buffer): void {
    session.replies.push(reply)
    session.repliesBytes += reply.length
    this.#sessions.add(session)
    this.#schedule()
  }

  // An entry ahead of the session's replies of this turn (a push).
  first(session: Session, entry: Buffer): void {
    session.replies.unshift(entry)
    session.repliesBytes += entry.length
    this.#sessions.add(session)
  }

  // A forgotten session gets nothing more.
  drop(session: Session): void {
    this.#sessions.delete(session)
  }

  // A fallback: the receive loop normally ends the turn itself, as soon as nothing more is waiting.
  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.end())
  }

  // Packs the turn's output: its commits, and each session's replies as one message.
  end(): void {
    if (!this.#scheduled) return
    this.#scheduled = false
    const commits = this.#commits.length > 0 ? this.#commits : NONE
    const commitBytes = this.#commitBytes
    if (commits !== NONE) {
      this.#commits = []
      this.#commitBytes = 0
    }
    this.beforeReplies()
    const replies: (readonly [Session, Buffer])[] = []
    for (const session of this.#sessions) {
      const header = arrayHeader(session.replies.length)
      // concat, not spread: a turn can hold more replies than a call takes arguments.
      replies.push([
        session,
        Buffer.concat([header].concat(session.replies), header.length + session.repliesBytes),
      ])
      session.replies = []
      session.repliesBytes = 0
    }
    this.#sessions.clear()
    const requests = this.#requests.length > 0 ? this.#requests : NONE
    if (requests !== NONE) this.#requests = []
    this.deliver({ commits, commitBytes, revision: this.revision(), replies, requests })
  }

  // Publishes the commits in one message, then sends each session its replies.
  send(output: TurnOutput): void {
    if (output.commits.length > 0) {
      this.#publishing.push([
        Channel.STATE,
        ...toParts(encodeWithItems([this.#epoch()], output.commits, output.commitBytes)),
      ])
      this.published = true
    }
    for (const [session, message] of output.replies) this.#replies.send(session, message)
  }

  close(): void {
    this.#scheduled = false
  }
}
