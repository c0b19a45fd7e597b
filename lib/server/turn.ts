// Group commit: what one turn of the server loop produced (commits, and replies per session),
// sent when the turn ends as one PUB message and one reply message per session.
import { arrayHeader, encodeWithItems } from '../protocol/codec.ts'
import { Channel } from '../protocol/ops.ts'
import type { SendQueue } from '../send-queue.ts'
import type { ReplySender } from './reply-sender.ts'
import type { Session } from './sessions.ts'

export class Turn {
  readonly #publishing: SendQueue
  readonly #replies: ReplySender
  readonly #epoch: string
  readonly #sessions = new Set<Session>()
  #commits: Buffer[] = []
  #commitBytes = 0
  #scheduled = false
  // Whether anything was published since the last heartbeat check.
  published = false
  // Called as the turn ends, before replies go out: partial sessions' pushes (lib/server/pushes.ts).
  beforeReplies: () => void = () => {}

  constructor(publishing: SendQueue, replies: ReplySender, epoch: string) {
    this.#publishing = publishing
    this.#replies = replies
    this.#epoch = epoch
  }

  commit(encoded: Buffer): void {
    this.#commits.push(encoded)
    this.#commitBytes += encoded.length
    this.#schedule()
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

  // Publishes the turn's commits in one message, then each session's replies in one message.
  end(): void {
    if (!this.#scheduled) return
    this.#scheduled = false
    if (this.#commits.length > 0) {
      this.#publishing.push([Channel.STATE, encodeWithItems([this.#epoch], this.#commits, this.#commitBytes)])
      this.published = true
      this.#commits = []
      this.#commitBytes = 0
    }
    this.beforeReplies()
    for (const session of this.#sessions) {
      const { replies } = session
      session.replies = []
      const header = arrayHeader(replies.length)
      // concat, not spread: a turn can hold more replies than a call takes arguments.
      this.#replies.send(
        session,
        Buffer.concat([header].concat(replies), header.length + session.repliesBytes),
      )
      session.repliesBytes = 0
    }
    this.#sessions.clear()
  }

  close(): void {
    this.#scheduled = false
  }
}
