// Rebuilding a store from the data dir: a snapshot's entries restored as they are, then the log's
// commits applied again, each exactly as the server applied it the first time.
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { decode, readStringAt, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import { peekArrayLength } from '../protocol/frames.ts'
import { readLease } from '../protocol/leases.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { readWirePatches } from '../protocol/patches.ts'
import type { Chunk } from '../server/slots.ts'
import { Store } from '../server/store.ts'
import { commitHead } from './layout.ts'
import type { Snapshot } from './snapshot-reader.ts'

// A store holding the snapshot: its epoch unless `epoch` is given, its revision, its keys.
export function restoreStore(snapshot: Snapshot, epoch: string = snapshot.epoch): Store {
  const store = new Store(epoch)
  store.restoreSnapshot(snapshot.bytes, snapshot.entries)
  store.restoreRevision(snapshot.revision)
  return store
}

// Applies one logged commit [revision, previous, changes, ...origin] to the store, which must be at
// `previous`, from its bytes: the keys and kinds of its changes are read where they lie, and only
// PATCH payloads are decoded (their results are computed from the store as it is before the commit,
// as the server did); the values it sets stay encoded, in the bytes the store keeps. Returns the
// commit as the store keeps it (for the history). ERR_CORRUPT when the bytes are not such a commit
// or do not follow the store's revision.
export function replayCommit(store: Store, bytes: Buffer): Chunk {
  let commit: { revision: number; previous: number; changes: WireChange[] }
  try {
    commit = readCommit(bytes)
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
  return store.replay(bytes, commit.changes, patched)
}

// [revision, previous, changes] read from the bytes; a SET's value is left where it is (undefined).
function readCommit(bytes: Buffer): { revision: number; previous: number; changes: WireChange[] } {
  const head = commitHead(bytes)
  if (head === undefined || (peekArrayLength(bytes) ?? 0) < 3)
    throw new Error('not [revision, previous, changes, ...origin]')
  let at = skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, 0)))
  const count = peekArrayLength(bytes, at) ?? -1
  at = skipArrayHeader(bytes, at)
  const changes: WireChange[] = []
  for (let i = 0; i < count; i++) {
    const items = peekArrayLength(bytes, at) ?? -1
    at = skipArrayHeader(bytes, at)
    const keyEnd = skipItem(bytes, at)
    // The key read in place, as a snapshot's are: decoding it as a message costs more than the rest.
    const key = bytes[at] === NIL ? null : readStringAt(bytes, at)?.value
    const kind = bytes[keyEnd]
    at = skipItem(bytes, keyEnd)
    const payloadEnd = items >= 3 ? skipItem(bytes, at) : at
    const leaseEnd = items === 4 ? skipItem(bytes, payloadEnd) : payloadEnd
    changes.push(
      readChange(
        key,
        kind,
        items,
        () => decode(bytes.subarray(at, payloadEnd)),
        () => decode(bytes.subarray(payloadEnd, leaseEnd)),
      ),
    )
    at = leaseEnd
  }
  return { ...head, changes }
}

function readChange(
  key: unknown,
  kind: unknown,
  items: number,
  payload: () => unknown,
  lease: () => unknown,
): WireChange {
  if (key === null && kind === ChangeKind.CLEAR && items === 2) return [null, ChangeKind.CLEAR]
  if (typeof key !== 'string') throw new Error('a change names no key')
  if ((kind === ChangeKind.SET || kind === ChangeKind.SET_ENCODED) && items === 3)
    return [key, ChangeKind.SET, undefined]
  if (kind === ChangeKind.SET && items === 4) {
    const read = readLease(lease())
    if (read === undefined) throw new Error(`the change of ${JSON.stringify(key)} has a malformed lease`)
    return [key, ChangeKind.SET, undefined, read]
  }
  if (kind === ChangeKind.PATCH && items === 3) return [key, ChangeKind.PATCH, readWirePatches(payload())]
  if (kind === ChangeKind.DELETE && items === 2) return [key, ChangeKind.DELETE]
  throw new Error(`a change of kind ${String(kind)} with ${items} elements`)
}

const NIL = 0xc0
