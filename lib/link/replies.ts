// What the server sends a connection, read and checked: the HELLO reply, snapshot and history pages,
// and the messages of the change stream. Every reader returns a typed value or throws ERR_PROTOCOL, so
// nothing decoded is taken on trust.
import { ErrorCode, ZStateError } from '../errors.ts'
import { isList, isRevision } from '../protocol/frames.ts'
import { ChangeKind, PROTOCOL_VERSION, type WireChange, type WireCommit } from '../protocol/ops.ts'
import { Undecoded } from '../protocol/undecoded.ts'
import { readWirePatches } from '../protocol/patches.ts'
import { adoptDecoded } from '../protocol/values.ts'

export function malformed(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `server sent a malformed ${what}`)
}

export interface Hello {
  protocol: number
  version: string
  epoch: string
  revision: number
  // The change stream's PUB, as this client reaches it.
  pubEndpoint: string
  maxMessageBytes: number
  heartbeatMs: number
  // The topic PUB (messaging), as this client reaches it; undefined from a server without topics.
  topicEndpoint: string
  // This connection's session: commits naming it acknowledge its writes.
  session: number
}

// `address` is the one this client dialled: wildcard endpoints are reached through its host.
export function readHello(reply: readonly unknown[], address: string): Hello {
  const [
    protocol,
    version,
    epoch,
    revision,
    pubEndpoint,
    maxMessageBytes,
    heartbeatMs,
    topicEndpoint,
    session,
  ] = reply
  if (protocol !== PROTOCOL_VERSION) {
    throw new ZStateError(
      ErrorCode.PROTOCOL,
      `server speaks protocol ${String(protocol)}, this client ${PROTOCOL_VERSION}`,
    )
  }
  if (
    typeof version !== 'string' ||
    typeof epoch !== 'string' ||
    !isRevision(revision) ||
    typeof pubEndpoint !== 'string' ||
    typeof maxMessageBytes !== 'number' ||
    typeof heartbeatMs !== 'number' ||
    typeof topicEndpoint !== 'string' ||
    !isRevision(session)
  ) {
    throw malformed('HELLO reply')
  }
  return {
    protocol,
    version,
    epoch,
    revision,
    pubEndpoint: reachable(pubEndpoint, address),
    maxMessageBytes,
    heartbeatMs,
    topicEndpoint: reachable(topicEndpoint, address),
    session,
  }
}

// A server bound to a wildcard host announces its PUB endpoints so; a client reaches them by the host
// it dialled.
function reachable(announced: string, dialled: string): string {
  const wildcard = /^tcp:\/\/(\*|0\.0\.0\.0|\[::\]):(\d+)$/.exec(announced)
  const host = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):/.exec(dialled)
  if (wildcard === null || host === null) return announced
  return `tcp://${host[1]}:${wildcard[2]}`
}

export interface SnapshotPage {
  epoch: string
  revision: number
  // The cursor of the next page; null on the last one.
  next: number | null
  // First page only: this session's writes committed up to `revision` whose commits it may have missed.
  acks: Acknowledgement[]
  entries: [string, unknown][]
}

// [requestId, revision, result?] (lib/server/acks.ts). The result as decoded: its reader (the
// write's own, lib/client/replies.ts) adopts it, as it does a result that came in a reply.
export type Acknowledgement = readonly [requestId: number, revision: number, result?: unknown]

export function readSnapshotPage(reply: readonly unknown[]): SnapshotPage {
  const [epoch, revision, next, acks, page] = reply
  if (typeof epoch !== 'string' || !isRevision(revision) || !isList(acks) || !isList(page))
    throw malformed('snapshot')
  if (next !== null && typeof next !== 'number') throw malformed('snapshot cursor')
  const entries = page.map((entry): [string, unknown] => {
    if (!isList(entry) || typeof entry[0] !== 'string') throw malformed('snapshot entry')
    return [entry[0], adoptDecoded(entry[1])]
  })
  return { epoch, revision, next, acks: acks.map(readAcknowledgement), entries }
}

function readAcknowledgement(raw: unknown): Acknowledgement {
  if (!isList(raw) || !isRevision(raw[0]) || !isRevision(raw[1]) || raw.length < 2 || raw.length > 3)
    throw malformed('snapshot acknowledgement')
  return raw.length === 3 ? [raw[0], raw[1], raw[2]] : [raw[0], raw[1]]
}

// [epoch, commits]: a history page (a reply) and a message of the change stream (PUB) alike.
export function readCommitPage(value: unknown, what: string): { epoch: string; commits: WireCommit[] } {
  if (!isList(value) || typeof value[0] !== 'string') throw malformed(what)
  return { epoch: value[0], commits: readCommits(value[1]) }
}

// [epoch, revision]: a heartbeat on the change stream, or a SYNC reply.
export function readPosition(value: unknown, what: string): { epoch: string; revision: number } {
  if (!isList(value) || typeof value[0] !== 'string' || !isRevision(value[1])) throw malformed(what)
  return { epoch: value[0], revision: value[1] }
}

// [revision, previous, changes, session?, requestId?, result?], or [revision, previous, changes,
// session, [[requestId, result?], …]] (docs/protocol.md "The change stream").
// The result is left as decoded, for the write's own reader (see Acknowledgement).
export function readCommits(raw: unknown): WireCommit[] {
  if (!isList(raw)) throw malformed('commit list')
  const commits = new Array<WireCommit>(raw.length)
  for (let i = 0; i < raw.length; i++) commits[i] = readCommit(raw[i])
  return commits
}

// One object per commit and none per change: the commit arrives at every replica for every write.
function readCommit(commit: unknown): WireCommit {
  if (!isList(commit) || commit.length < 3 || commit.length > 6) throw malformed('commit')
  const [revision, previous, changes, session, requestId] = commit
  if (!isRevision(revision) || !isRevision(previous) || previous >= revision || !Array.isArray(changes))
    throw malformed('commit')
  for (let i = 0; i < changes.length; i++) changes[i] = readChange(changes[i])
  const read = changes as WireChange[]
  if (commit.length === 3) return { revision, previous, changes: read }
  if (commit.length === 5 && isRevision(session) && Array.isArray(requestId)) {
    for (const ack of requestId as unknown[])
      if (!isList(ack) || ack.length < 1 || ack.length > 2 || !isRevision(ack[0]))
        throw malformed('commit origin')
    return { revision, previous, changes: read, origin: { session, acks: requestId as unknown[][] } }
  }
  if (!isRevision(session) || !isRevision(requestId)) throw malformed('commit origin')
  const origin = commit.length === 6 ? { session, requestId, result: commit[5] } : { session, requestId }
  return { revision, previous, changes: read, origin }
}

// A push of a partial session's commits, [0, COMMITS, epoch, upTo, commits] (lib/server/pushes.ts):
// commits in order, chained by `previous`, none beyond `upTo`.
export function readPushedCommits(push: readonly unknown[]): {
  epoch: string
  upTo: number
  commits: WireCommit[]
} {
  const [, , epoch, upTo, raw] = push
  if (typeof epoch !== 'string' || !isRevision(upTo)) throw malformed('push of commits')
  const commits = readCommits(raw)
  commits.forEach((commit, i) => {
    if (
      commit.origin !== undefined ||
      commit.revision > upTo ||
      (i > 0 && commit.previous !== commits[i - 1]!.revision)
    )
      throw malformed('push of commits')
  })
  return { epoch, upTo, commits }
}

export function readChange(raw: unknown): WireChange {
  if (!isList(raw)) throw malformed('change')
  const [key, kind] = raw
  if (kind === ChangeKind.CLEAR) return [null, ChangeKind.CLEAR]
  if (typeof key !== 'string') throw malformed('change key')
  // The decoded array itself, checked, when it already has the change's shape.
  if (kind === ChangeKind.SET && raw.length === 3) {
    const change = raw as unknown[]
    change[2] = adoptDecoded(change[2])
    return change as unknown as WireChange
  }
  if (kind === ChangeKind.SET) return [key, ChangeKind.SET, adoptDecoded(raw[2])]
  // Kept as the bytes until read: their own copy (from the pool Node keeps for small buffers), not a
  // view that would keep the whole message.
  if (kind === ChangeKind.SET_ENCODED && raw.length === 3 && raw[2] instanceof Uint8Array) {
    const change = raw as unknown[]
    change[1] = ChangeKind.SET
    change[2] = new Undecoded(Buffer.from(raw[2]))
    return change as unknown as WireChange
  }
  if (kind === ChangeKind.DELETE) return [key, ChangeKind.DELETE]
  if (kind === ChangeKind.PATCH) return [key, ChangeKind.PATCH, readWirePatches(raw[2])]
  throw malformed('change kind')
}
