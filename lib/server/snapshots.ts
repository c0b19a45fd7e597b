// Snapshots in pages: a joining client gets the store as of one revision in messages under the limit.
// Where each value's bytes are is captured once (they are never written over), then the entries are
// handed out page by page.
import { ErrorCode, ZStateError } from '../errors.ts'
import { arrayHeader, encode, encodeWithItems } from '../protocol/codec.ts'
import { Status } from '../protocol/ops.ts'
import type { Prefixes } from '../protocol/prefixes.ts'
import type { Session } from './sessions.ts'
import type { SnapshotHolds } from './snapshot-holds.ts'
import type { Store } from './store.ts'

// The store at one revision: entry i is keys[i], whose encoded value is bytes spans[2i]..spans[2i+1]
// of chunks[i]. Flat columns: a capture of a large store costs no object per entry.
export interface SnapshotEntries {
  readonly keys: string[]
  readonly chunks: Buffer[]
  readonly spans: Float64Array
}

let nextCursor = 1

const PAIR = arrayHeader(2)

// A partial session's snapshot holds only the keys under its prefixes (lib/server/pushes.ts).
function capture(store: Store, prefixes: Prefixes | undefined): SnapshotEntries {
  const entries: SnapshotEntries = { keys: [], chunks: [], spans: new Float64Array(2 * store.size) }
  if (prefixes?.none === true) return entries
  store.spans((key, chunk, start, end) => {
    if (prefixes !== undefined && !prefixes.covers(key)) return
    entries.spans[2 * entries.keys.length] = start
    entries.spans[2 * entries.keys.length + 1] = end
    entries.keys.push(key)
    entries.chunks.push(chunk)
  })
  return entries
}

// The reply to SNAPSHOT [cursor]: [id, OK, epoch, revision, nextCursor | null, acks, entries], a page of
// about `budget` bytes (at least one entry). `holds` bounds the snapshots in progress of all sessions.
export function snapshotPage(
  store: Store,
  session: Session,
  id: number,
  cursor: unknown,
  budget: number,
  holds: SnapshotHolds,
): Buffer {
  let state = session.snapshot
  const now = Date.now()
  if (cursor === null) {
    holds.release(session)
    // Every key (not a partial session's): shared with whoever reads a capture at this revision.
    const fullAt = session.replicate === undefined ? store.revision : undefined
    const entries =
      (fullAt === undefined ? undefined : holds.sharedAt(fullAt)) ?? capture(store, session.replicate)
    holds.admit(session, entries, fullAt, store.size, now)
    state = { id: nextCursor++, revision: store.revision, entries, offset: 0 }
    session.snapshot = state
    session.lastSnapshotId = state.id
  } else if (state === undefined || cursor !== state.id) {
    // The session's own, no longer held: dropped while idle, to make room. Another session's cursor
    // is as unknown to it as one never handed out.
    if (cursor === session.lastSnapshotId)
      throw new ZStateError(ErrorCode.OVERFLOW, `snapshot ${cursor} is no longer held (idle); start again`)
    throw new ZStateError(ErrorCode.PROTOCOL, `unknown snapshot cursor ${String(cursor)}`)
  } else holds.touch(session, now)
  const { keys, chunks, spans } = state.entries
  // Each entry [key, value] in three parts: the pair's header, the key, the value's stored bytes.
  const parts: Uint8Array[] = []
  let bytes = 0
  let count = 0
  while (state.offset < keys.length && (count === 0 || bytes < budget)) {
    const i = state.offset++
    const key = encode(keys[i])
    const value = chunks[i]!.subarray(spans[2 * i], spans[2 * i + 1])
    parts.push(PAIR, key, value)
    bytes += PAIR.length + key.length + value.length
    count++
  }
  const done = state.offset >= keys.length
  if (done) holds.release(session)
  // The first page also carries the acknowledgements of this session's writes up to the snapshot's
  // revision that its client has not confirmed: it may have missed their commits (lib/server/acks.ts).
  const acks = cursor === null ? session.acks.unconfirmed() : []
  return encodeWithItems(
    [id, Status.OK, store.epoch, state.revision, done ? null : state.id, acks],
    parts,
    bytes,
    count,
  )
}
