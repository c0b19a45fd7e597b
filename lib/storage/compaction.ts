// Compaction: a new snapshot built in a worker thread (the server's event loop never replays or
// encodes it), then prune() removes what the snapshot and the history no longer need.
import { readdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { ErrorCode, ZStateError, invalidArgument, isErrorCode } from '../errors.ts'
import { isRevision } from '../protocol/frames.ts'
import { fsyncDir, listDir } from './layout.ts'
import { THREAD_BOOT } from '../thread-boot.ts'
import { fromSource, libEntry } from '../package-files.ts'

// The built `.js` entry when zstate runs from dist/, the `.ts` source through tsx when it runs from
// source (tsx's hooks from --import do not reach threads on Node 20: the thread registers them).
const ENTRY = libEntry('storage/compaction-worker')

type Outcome = { ok: true; path: string; bytes: number } | { ok: false; message: string; code?: string }

// Writes `snapshot-<upToRevision>.zsnap` from the newest snapshot before it and the log, in a worker
// thread. Rejects with ERR_CORRUPT when the dir does not reach that revision, ERR_STORAGE when the
// disk refuses, and `signal.reason` when aborted (the thread is stopped; a `*.tmp` may stay).
export function compact(
  dir: string,
  upToRevision: number,
  options: { signal?: AbortSignal } = {},
): Promise<{ path: string; bytes: number }> {
  if (!isRevision(upToRevision) || upToRevision < 1)
    return Promise.reject(
      invalidArgument(`compact: upToRevision must be an integer ≥ 1, got ${upToRevision}`),
    )
  const { signal } = options
  if (signal?.aborted === true) return Promise.reject(signal.reason)
  // From source its entry is TypeScript, an ES module: tsx's ES module hooks are enough (lib/thread-boot.ts).
  const tsx = fromSource ? [import.meta.resolve('tsx/esm/api')] : undefined
  const worker = new Worker(THREAD_BOOT, {
    eval: true,
    workerData: { entry: ENTRY.href, tsx, dir, upToRevision },
  })
  let abort: (() => void) | undefined
  return new Promise<{ path: string; bytes: number }>((resolve, reject) => {
    abort = () => {
      reject(signal!.reason)
      void worker.terminate()
    }
    signal?.addEventListener('abort', abort, { once: true })
    worker.once('message', (outcome: Outcome) => {
      if (outcome.ok) resolve({ path: outcome.path, bytes: outcome.bytes })
      else {
        const code = isErrorCode(outcome.code) ? outcome.code : ErrorCode.STORAGE
        reject(new ZStateError(code, `compaction of ${dir} failed: ${outcome.message}`))
      }
    })
    worker.once('error', (error) =>
      reject(
        new ZStateError(ErrorCode.STORAGE, `compaction of ${dir} failed: ${error.message}`, { cause: error }),
      ),
    )
    worker.once('exit', (code) =>
      reject(
        new ZStateError(
          ErrorCode.STORAGE,
          `the compaction thread for ${dir} exited (${code}) without a result`,
        ),
      ),
    )
  }).finally(() => {
    if (abort !== undefined) signal?.removeEventListener('abort', abort)
  })
}

const SNAPSHOT_TMP = /^snapshot-(\d{20})\.zsnap\.[0-9a-f]+\.tmp$/
const SEGMENT_TMP = /^log-(\d{20})\.zlog\.tmp$/

// Once the snapshot of `snapshotRevision` is written: removes the snapshots before it, every
// segment whose commits are all before `keepFromRevision` (never the last one), and temporary files
// that can no longer become anything. `keepFromRevision` may not pass the snapshot's revision + 1.
export async function prune(
  dir: string,
  options: { snapshotRevision: number; keepFromRevision: number },
): Promise<{ removed: string[] }> {
  const { snapshotRevision, keepFromRevision } = options
  if (!isRevision(keepFromRevision) || keepFromRevision > snapshotRevision + 1)
    throw invalidArgument(
      `prune: keepFromRevision must be at most snapshotRevision + 1 (${snapshotRevision + 1}), got ${keepFromRevision}`,
    )
  const { segments, snapshots } = listDir(dir)
  if (!snapshots.some((file) => file.revision === snapshotRevision))
    throw invalidArgument(`prune: ${dir} holds no snapshot of revision ${snapshotRevision}`)
  const removed = snapshots.filter((file) => file.revision < snapshotRevision).map((file) => file.path)
  // Segment i holds revisions first(i)..first(i + 1) − 1.
  for (let i = 0; i + 1 < segments.length && segments[i + 1]!.revision <= keepFromRevision; i++)
    removed.push(segments[i]!.path)
  const lastSegment = segments.at(-1)?.revision ?? 0
  for (const name of readdirSync(dir)) {
    const snapshot = SNAPSHOT_TMP.exec(name)?.[1]
    const segment = SEGMENT_TMP.exec(name)?.[1]
    if (
      (snapshot !== undefined && Number(snapshot) <= snapshotRevision) ||
      (segment !== undefined && Number(segment) < lastSegment)
    )
      removed.push(join(dir, name))
  }
  await Promise.all(removed.map((path) => rm(path, { force: true })))
  if (removed.length > 0) await fsyncDir(dir)
  return { removed }
}
