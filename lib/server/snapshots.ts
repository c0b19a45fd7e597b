// Snapshots in pages: a joining client gets the store as of one revision in messages under the limit.
// The entries are captured once (values are immutable), then handed out page by page.
import { ErrorCode, ZStateError } from '../errors.ts'
import { encode, encodeWithItems } from '../protocol/codec.ts'
import { Status } from '../protocol/ops.ts'
import type { Session } from './sessions.ts'
import type { Store } from './store.ts'

let nextCursor = 1

// The reply to SNAPSHOT [cursor]: [id, OK, epoch, revision, nextCursor | null, acks, entries], a page of
// about `budget` bytes (at least one entry).
export function snapshotPage(
  store: Store,
  session: Session,
  id: number,
  cursor: unknown,
  budget: number,
): Buffer {
  let state = session.snapshot
  if (cursor === null) {
    state = { id: nextCursor++, revision: store.revision, entries: Array.from(store.entries()), offset: 0 }
    session.snapshot = state
  } else if (state === undefined || cursor !== state.id) {
    throw new ZStateError(ErrorCode.PROTOCOL, `unknown snapshot cursor ${String(cursor)}`)
  }
  const items: Buffer[] = []
  let bytes = 0
  while (state.offset < state.entries.length && (items.length === 0 || bytes < budget)) {
    const item = encode(state.entries[state.offset++])
    items.push(item)
    bytes += item.length
  }
  const done = state.offset >= state.entries.length
  if (done) session.snapshot = undefined
  // The first page also carries the acknowledgements of this session's writes up to the snapshot's
  // revision that its client has not confirmed: it may have missed their commits (lib/server/acks.ts).
  const acks = cursor === null ? session.acks.unconfirmed() : []
  return encodeWithItems(
    [id, Status.OK, store.epoch, state.revision, done ? null : state.id, acks],
    items,
    bytes,
  )
}
