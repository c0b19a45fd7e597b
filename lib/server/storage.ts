// A data dir as the server uses it (docs/durability.md): locked for this server, read back into a
// store and history at start (and again after a failed write), continued by the write-ahead log,
// and compacted into snapshots in the background.
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { commitHead } from '../storage/layout.ts'
import { acquireLock } from '../storage/lock.ts'
import { LogWriter } from '../storage/log-writer.ts'
import { recover, type Recovered } from '../storage/recovery.ts'
import { replayCommit, restoreStore } from '../storage/replay.ts'
import { compact, prune } from '../storage/compaction.ts'
import type { CommitLog } from './durable.ts'
import { History, type HistoryLimits } from './history.ts'
import type { FsyncPolicy, StorageOptions } from './options.ts'
import { Store, freshEpoch } from './store.ts'

export interface Storage {
  readonly store: Store
  readonly history: History
  readonly fsync: FsyncPolicy
  readonly log: CommitLog
  // The store and history again, from what the data dir holds; under a new epoch when `newEpoch`.
  reload(newEpoch: boolean): Promise<{ store: Store; history: History }>
  // In the background: a snapshot once the log has grown enough since the last one; otherwise the
  // removal of segments that both the snapshot and the history have left behind.
  maintain(historyFirstRevision: number): void
  // Flushes, syncs and releases the dir; `clean` marks the log so that a restart keeps the epoch,
  // and leaves a snapshot and only the segments the history still needs, which a restart reads.
  close(clean: boolean, historyFirstRevision: number): Promise<void>
}

interface Rebuilt {
  store: Store
  history: History
  // The revision of the snapshot it was read from (0: none).
  snapshotRevision: number
}

export async function openStorage(options: StorageOptions, limits: HistoryLimits): Promise<Storage> {
  try {
    return await open(options, limits)
  } catch (error) {
    throw startError(options.dir, error)
  }
}

// What the file system refused as the dir was opened (it is a file, a directory stands where a file
// should, no space, a read-only mount): ERR_STORAGE naming the path, rather than Node's own error.
function startError(dir: string, error: unknown): unknown {
  if (isZStateError(error)) return error
  const { code, path } = error as NodeJS.ErrnoException
  if (code === undefined) return error
  return new ZStateError(
    ErrorCode.STORAGE,
    `cannot open the data dir ${dir}: ${code} on ${path ?? dir} (${(error as Error).message})`,
    { cause: error },
  )
}

async function open(options: StorageOptions, limits: HistoryLimits): Promise<Storage> {
  const lock = await acquireLock(options.dir)
  try {
    const recovered = await recover(options.dir, { repair: options.repair })
    // When the last server ran under 'always', nothing was heard of that the disk does not hold, so
    // clients may resume, whatever this run's policy; after a crash under any other policy, or a
    // repair that cut commits, some published commits may be gone: a new epoch makes clients reset.
    // (A log written before its segments said how they were synced: this run's policy decides.)
    const keep =
      recovered.epoch !== undefined &&
      !recovered.cutCommits &&
      (recovered.cleanClose || (recovered.lastRunSynced ?? options.fsync === 'always'))
    const rebuilt = rebuild(recovered, limits, keep ? recovered.epoch : undefined)
    const writer = LogWriter.open(options.dir, recovered.tail, {
      fsync: options.fsync,
      epoch: rebuilt.store.epoch,
    })
    return storage(options, limits, rebuilt, writer, lock)
  } catch (error) {
    await lock.release()
    throw error
  }
}

function storage(
  options: StorageOptions,
  limits: HistoryLimits,
  rebuilt: Rebuilt,
  writer: LogWriter,
  lock: { release(): Promise<void> },
): Storage {
  // The snapshot or prune in progress, the newest snapshot's revision, and where the last prune kept from.
  let busy: Promise<void> | undefined
  let snapshotRevision = rebuilt.snapshotRevision
  let prunedTo = 0
  const warn = (error: unknown): void =>
    process.emitWarning(`zstate: compacting ${options.dir} failed: ${(error as Error).message}`, {
      code: 'ZSTATE_COMPACTION_FAILED',
    })
  return {
    ...rebuilt,
    fsync: options.fsync,
    log: writer,
    async reload(newEpoch) {
      const recovered = await recover(options.dir, { repair: false })
      const rebuilt = rebuild(recovered, limits, newEpoch ? freshEpoch() : recovered.epoch)
      if (newEpoch) writer.newEpoch(rebuilt.store.epoch)
      return rebuilt
    },
    maintain(historyFirstRevision) {
      if (busy !== undefined) return
      const work = writer.compactionDue() ? snapshot() : pruneBehind(historyFirstRevision)
      if (work === undefined) return
      busy = work.catch(warn)
      void busy.finally(() => {
        busy = undefined
      })
    },
    async close(clean, historyFirstRevision) {
      await busy
      try {
        await writer.close(clean)
        if (clean) await leaveForRestart(historyFirstRevision).catch(warn)
      } finally {
        await lock.release()
      }
    },
  }

  // A snapshot at the last synced revision, written in the background.
  async function snapshot(): Promise<void> {
    const upTo = writer.syncedRevision()
    await compact(options.dir, upTo)
    writer.compacted(upTo)
    snapshotRevision = upTo
  }

  // Removes the segments the snapshot covers once the history has moved past them too; undefined
  // when there is nothing new to remove.
  function pruneBehind(historyFirstRevision: number): Promise<void> | undefined {
    const keepFrom = Math.min(snapshotRevision + 1, historyFirstRevision)
    if (snapshotRevision === 0 || keepFrom <= prunedTo) return undefined
    return prune(options.dir, { snapshotRevision, keepFromRevision: keepFrom }).then(() => {
      prunedTo = keepFrom
    })
  }

  // Much logged since the last snapshot: a snapshot at the last revision, so the next start restores
  // it rather than replaying every commit since; then the segments neither it nor the history needs
  // go, so the next start does not read them either.
  async function leaveForRestart(historyFirstRevision: number): Promise<void> {
    if (writer.compactionDue(CLOSE_SNAPSHOT_BYTES)) await snapshot()
    await pruneBehind(historyFirstRevision)
  }
}

// Logged bytes past the last snapshot beyond which a clean close writes one (docs/durability.md).
const CLOSE_SNAPSHOT_BYTES = 1 << 20

// The store at the log's last revision, and the history its commits still fill.
function rebuild(recovered: Recovered, limits: HistoryLimits, epoch: string | undefined): Rebuilt {
  const snapshot = recovered.snapshot
  const store = snapshot === undefined ? new Store(epoch) : restoreStore(snapshot, epoch ?? freshEpoch())
  const base = store.revision
  const { commits } = recovered
  const first = commits.length > 0 ? commitHead(commits[0]!)!.revision : base + 1
  // Commits older than the history can hold are only replayed (if the snapshot is older still).
  const kept = Math.max(first, first + commits.length - limits.revisions)
  const history = new History(limits, kept)
  // Consecutive revisions (recovery checked the chain): commit i is revision first + i.
  commits.forEach((bytes, i) => {
    const revision = first + i
    if (revision > base) {
      const entry = replayCommit(store, bytes)
      if (revision >= kept) history.push(entry, revision)
      else entry.retire()
    }
    // Kept as read, a view of its segment file: the file's buffer stays while the history holds any
    // of its commits (a segment or two), which costs less than a copy of each at every restart.
    else if (revision >= kept) history.push({ bytes, retire() {} }, revision)
  })
  return { store, history, snapshotRevision: snapshot?.revision ?? 0 }
}
