// Who is connected: one session per DEALER routing id, created by HELLO, expired by silence.
import { runSerialBase } from './run-serial.ts'
import type { Prefixes } from '../protocol/prefixes.ts'
import { AckLog } from './acks.ts'
import type { ReplyPeer } from './reply-sender.ts'
import type { SnapshotEntries } from './snapshots.ts'
import { ownString } from './own-string.ts'

export interface SnapshotCursor {
  id: number
  revision: number
  entries: SnapshotEntries
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
  // The cursor of the last snapshot it started, held or dropped since (told apart from others').
  lastSnapshotId: number
  // A partial session's prefixes (HELLO's fifth argument): it is served by pushes on its own channel,
  // not by PUB (lib/server/pushes.ts). undefined: everything, on PUB.
  replicate: Prefixes | undefined
  // The revision its pushes have reached: where the next push's chain starts.
  pushed: number
  // The CURVE public key it proved it holds (a curve server); undefined elsewhere.
  clientKey: string | undefined
}

// The name a gateway's link to another gateway of its state gives its sessions there
// (lib/server/etcd/federation.ts): its providers are proxies, its calls and messages forwarded.
export const GATEWAY_LINK = 'zstate-gateway-link'

export function isGatewayLink(session: Session): boolean {
  return session.name.startsWith(GATEWAY_LINK)
}

// A client's name is for `zstate top`: longer names are cut, not stored.
const MAX_NAME_LENGTH = 256

export class Sessions {
  readonly #byKey = new Map<string, Session>()
  // The sessions with prefixes: those that get pushes.
  readonly partial = new Set<Session>()
  // Session numbers start at a random base per run of the server: a restart on a data dir keeps the
  // epoch, and a client that has not noticed it yet still applies the new run's commits, so a number
  // from an earlier run must not come back (docs/protocol.md, HELLO).
  #serial = runSerialBase()

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

  // A HELLO again on the same connection keeps the session; its prefixes are replaced, and its pushes
  // start again from `revision`.
  open(
    routingId: Buffer,
    fullName: string,
    pid: number,
    now: number,
    replicate: Prefixes | undefined,
    revision: number,
    clientKey: string | undefined,
  ): Session {
    const name = ownString(fullName.slice(0, MAX_NAME_LENGTH))
    const key = routingId.toString('latin1')
    const existing = this.#byKey.get(key)
    if (existing !== undefined) {
      existing.name = name
      existing.pid = pid
      existing.lastSeen = now
      existing.clientKey = clientKey
      this.#replicate(existing, replicate, revision)
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
      lastSnapshotId: 0,
      replicate: undefined,
      pushed: revision,
      backlog: undefined,
      backlogBytes: 0,
      clientKey,
    }
    this.#byKey.set(key, session)
    this.#replicate(session, replicate, revision)
    return session
  }

  delete(session: Session): void {
    this.#byKey.delete(session.key)
    this.partial.delete(session)
  }

  #replicate(session: Session, replicate: Prefixes | undefined, revision: number): void {
    session.replicate = replicate
    session.pushed = revision
    if (replicate === undefined) this.partial.delete(session)
    else this.partial.add(session)
  }

  // Sessions silent since before `cutoff`.
  *idleSince(cutoff: number): Generator<Session> {
    for (const session of this.#byKey.values()) if (session.lastSeen < cutoff) yield session
  }

  values(): IterableIterator<Session> {
    return this.#byKey.values()
  }
}
