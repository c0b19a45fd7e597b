// Rebuilding a store from the data dir: a snapshot's entries restored as they are, then the log's
// commits applied again, each exactly as the server applied it the first time.
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { decode } from '../protocol/codec.ts'
import { isList, isRevision } from '../protocol/frames.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { readWirePatches } from '../protocol/patches.ts'
import { adoptDecoded } from '../protocol/values.ts'
import type { Chunk } from '../server/slots.ts'
import { Store } from '../server/store.ts'
import type { Snapshot } from './snapshot-reader.ts'

// A store holding the snapshot: its epoch unless `epoch` is given, its revision, its keys.
export function restoreStore(snapshot: Snapshot, epoch: string = snapshot.epoch): Store {
  const store = new Store(epoch)
  for (const [key, keyRevision, value] of snapshot.entries) store.restore(key, keyRevision, value)
  store.restoreRevision(snapshot.revision)
  return store
}

// Applies one logged commit [revision, previous, changes, ...origin] to the store, which must be at
// `previous`. PATCH results are computed from the store as it is before the commit, as the server
// did. Returns the commit as the store encoded it (for the history). ERR_CORRUPT when the bytes are
// not such a commit or do not follow the store's revision.
export function replayCommit(store: Store, bytes: Buffer): Chunk {
  let commit: { revision: number; previous: number; changes: WireChange[]; origin: unknown[] }
  try {
    commit = readCommit(decode(bytes))
  } catch (error) {
    const reason = isZStateError(error) ? error.message : String(error)
    throw new ZStateError(ErrorCode.CORRUPT, `a logged commit cannot be read: ${reason}`, { cause: error })
  }
  if (commit.previous !== store.revision || commit.revision !== commit.previous + 1)
    throw new ZStateError(
      ErrorCode.CORRUPT,
      `logged commit ${commit.revision} follows revision ${commit.previous}, the store is at ${store.revision}`,
    )
  const patched = new Map<string, unknown>()
  for (const change of commit.changes)
    if (change[1] === ChangeKind.PATCH) patched.set(change[0], store.patched(change[0], change[2]))
  return store.commit(commit.changes, patched, commit.origin)
}

// The decoded commit checked piece by piece: values adopted as a request's are (frozen, binary as
// Uint8Array), so they encode to the same bytes again.
function readCommit(raw: unknown): {
  revision: number
  previous: number
  changes: WireChange[]
  origin: unknown[]
} {
  if (!isList(raw) || raw.length < 3) throw new Error('not [revision, previous, changes, ...origin]')
  const [revision, previous, changes, ...origin] = raw
  if (!isRevision(revision) || !isRevision(previous) || !isList(changes))
    throw new Error('not [revision, previous, changes, ...origin]')
  if (origin.length > 2) origin[2] = adoptDecoded(origin[2])
  return { revision, previous, changes: changes.map(readChange), origin }
}

function readChange(raw: unknown): WireChange {
  if (!isList(raw)) throw new Error('a change is not a list')
  const [key, kind] = raw
  if (key === null && kind === ChangeKind.CLEAR && raw.length === 2) return [null, ChangeKind.CLEAR]
  if (typeof key !== 'string') throw new Error('a change names no key')
  if (kind === ChangeKind.SET && raw.length === 3) return [key, ChangeKind.SET, adoptDecoded(raw[2])]
  if (kind === ChangeKind.PATCH && raw.length === 3) return [key, ChangeKind.PATCH, readWirePatches(raw[2])]
  if (kind === ChangeKind.DELETE && raw.length === 2) return [key, ChangeKind.DELETE]
  throw new Error(`a change of kind ${String(kind)} with ${raw.length} elements`)
}
