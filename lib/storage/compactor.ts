// The work of a compaction, run in a worker thread (lib/storage/compaction.ts): the newest snapshot
// at or before the revision, the log's commits after it replayed into a store of its own, written
// as the new snapshot. It reads the dir and writes only the new snapshot: the server's log goes on
// growing meanwhile.
import { stat } from 'node:fs/promises'
import { ErrorCode, ZStateError } from '../errors.ts'
import { Store } from '../server/store.ts'
import { commitHead, listDir } from './layout.ts'
import { commitChecksum } from './records.ts'
import { restoreStore, replayCommit } from './replay.ts'
import { readSegment } from './segment-reader.ts'
import { readSnapshot } from './snapshot-reader.ts'
import { storeEntries, writeSnapshot } from './snapshot-writer.ts'

export async function buildSnapshot(
  dir: string,
  upToRevision: number,
): Promise<{ path: string; bytes: number }> {
  const { segments, snapshots } = listDir(dir)
  const baseFile = snapshots.findLast((file) => file.revision <= upToRevision)
  const base = baseFile === undefined ? undefined : readSnapshot(baseFile)
  if (baseFile !== undefined && base?.revision === upToRevision) {
    return { path: baseFile.path, bytes: (await stat(baseFile.path)).size }
  }
  const store = base === undefined ? new Store() : restoreStore(base)
  let epoch = base?.epoch
  let lastChecksum: number | undefined
  for (const [i, file] of segments.entries()) {
    if (store.revision >= upToRevision) break
    // A segment all of whose commits the store already holds is not even read.
    const next = segments[i + 1]
    if (next !== undefined && next.revision <= store.revision + 1) continue
    const read = readSegment(file)
    if (read.epoch !== undefined) epoch = read.epoch
    for (const commit of read.commits) {
      const revision = commitHead(commit)!.revision
      if (revision > upToRevision) break
      if (revision > store.revision) {
        replayCommit(store, commit)
        if (revision === upToRevision) lastChecksum = commitChecksum(commit)
      }
    }
  }
  if (store.revision !== upToRevision || epoch === undefined)
    throw new ZStateError(
      ErrorCode.CORRUPT,
      `cannot compact ${dir} up to revision ${upToRevision}: its snapshot and log reach ${store.revision}`,
    )
  return writeSnapshot(dir, { epoch, revision: upToRevision, lastChecksum, entries: storeEntries(store) })
}
