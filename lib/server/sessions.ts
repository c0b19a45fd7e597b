// Who is connected: one session per DEALER routing id, created by HELLO, expired by silence.
import { AckLog } from './acks.ts'
import type { ReplyPeer } from './reply-sender.ts'

export interface SnapshotCursor {
  id: number
  revision: number
  entries: [string, unknown][]
  offset: number
}

export interface Session extends ReplyPeer {
  readonly key: string
  // Names the session in the commits its writes make (their acknowledgement); unique per server.
  readonly number: number
  readonly acks: AckLog
  name: string
  pid: number
  lastSeen: number
  // Replies produced during the current turn, sent as one message when it ends.
  replies: Buffer[]
  repliesBytes: number
  snapshot: SnapshotCursor | undefined
}

// A client's name is for `zstate top`: longer names are cut, not stored.
const MAX_NAME_LENGTH = 256

export class Sessions {
  readonly #byKey = new Map<string, Session>()
  #serial = 0

  get size(): number {
    return this.#byKey.size
  }

  get(routingId: Buffer): Session | undefined {
    return this.#byKey.get(routingId.toString('latin1'))
  }

  // By the routing id as a latin1 string.
  getByKey(key: string): Session | undefined {
    return this.#byKey.get(key)
  }

  open(routingId: Buffer, fullName: string, pid: number, now: number): Session {
    const name = fullName.slice(0, MAX_NAME_LENGTH)
    const key = routingId.toString('latin1')
    const existing = this.#byKey.get(key)
    if (existing !== undefined) {
      existing.name = name
      existing.pid = pid
      existing.lastSeen = now
      return existing
    }
    const session: Session = {
      key,
      number: ++this.#serial,
      acks: new AckLog(),
      routingId: Buffer.from(routingId),
      name,
      pid,
      lastSeen: now,
      replies: [],
      repliesBytes: 0,
      snapshot: undefined,
      backlog: undefined,
      backlogBytes: 0,
    }
    this.#byKey.set(key, session)
    return session
  }

  delete(session: Session): void {
    this.#byKey.delete(session.key)
  }

  // Sessions silent since before `cutoff`.
  *idleSince(cutoff: number): Generator<Session> {
    for (const session of this.#byKey.values()) if (session.lastSeen < cutoff) yield session
  }

  values(): IterableIterator<Session> {
    return this.#byKey.values()
  }
}
