// The write-ahead log: each server turn's encoded commits appended as COMMIT records with one writev
// (into the page cache), fsynced by group commit (an fdatasync: a segment is made at its full length,
// so appends change no size; it is cut to what it holds when it is finished). Every run of a server
// writes a segment of its own, started durably before its first commit, so a log that ends with
// CLEAN always means the last run closed it: a crash of a later run can never leave an earlier run's
// CLEAN at the end.
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync } from 'node:fs'
import { ErrorCode, ZStateError } from '../errors.ts'
import { GroupFsync } from './group-fsync.ts'
import { commitHead } from './layout.ts'
import { RecordKind, frameRecord, frameRecords } from './records.ts'
import type { LogTail } from './recovery.ts'
import {
  appendAll,
  createSegment,
  cutBack,
  fdatasyncAsync,
  fsyncAsync,
  storageError,
} from './segment-file.ts'

/** When the log is fsynced besides rolls and close: see LogWriterOptions.fsync. */
export type FsyncPolicy = 'always' | 'interval' | 'never'

export interface LogWriterOptions {
  /**
   * `'interval'`: the writer fsyncs at most 1 s after an append. `'always'` and `'never'`: only when
   * durable() is called (the server calls it per turn under `'always'`), at rolls and at close.
   */
  readonly fsync: FsyncPolicy
  /** The epoch of the segment open() starts; default the tail's (none for a new dir: call newEpoch()). */
  readonly epoch?: string
  /**
   * A new segment is started at an append once the current one holds this many bytes; default 1 MiB:
   * segments the snapshot and the history have left behind are removed whole, and a restart reads
   * the ones after, so the smaller they are the less of the log is kept and read again.
   */
  readonly segmentBytes?: number
  /** compactionDue() once the log holds this many bytes past the last snapshot; default 64 MiB. */
  readonly compactBytes?: number
}

const INTERVAL_MS = 1000

export class LogWriter {
  readonly #dir: string
  readonly #policy: FsyncPolicy
  readonly #segmentBytes: number
  readonly #compactBytes: number
  readonly #group: GroupFsync
  // The open segment: undefined until there is an epoch to start one with.
  #fd: number | undefined
  // The commit path's fsyncs (durable, syncNow) and their total duration.
  readonly fsyncTally = { fsyncs: 0, fsyncSeconds: 0 }
  #path = ''
  #epoch: string | undefined
  // What the open segment's records take (it was made #segmentBytes long: zeros after them).
  #size = 0
  #segmentCommits = 0
  #revision: number
  // The checksum of the commit of #revision (undefined: unknown), which a new segment's header names.
  #checksum: number | undefined
  // What the last good fsync of the open segment covered.
  #synced: Position
  // Bumped when the open segment changes or is cut back: an fsync that started before reports nothing.
  #generation = 0
  // Set when the file may not hold what was appended (an fsync or a rollback failed): appends are
  // refused until rewind() cuts the log back to what the last good fsync covered.
  #fault: ZStateError | undefined
  // Segments rolled away while an fsync that may use their fd is in flight.
  #retired: number[] = []
  #snapshotRevision: number
  #sinceSnapshot: number
  #closing: Promise<void> | undefined

  // Continues the log `recover()` read from `dir`: a new segment after `tail.revision`.
  static open(dir: string, tail: LogTail, options: LogWriterOptions): LogWriter {
    const writer = new LogWriter(dir, tail, options)
    const epoch = options.epoch ?? tail.epoch
    if (epoch !== undefined) writer.newEpoch(epoch)
    return writer
  }

  constructor(dir: string, tail: LogTail, options: LogWriterOptions) {
    this.#dir = dir
    this.#policy = options.fsync
    this.#segmentBytes = options.segmentBytes ?? 1 << 20
    this.#compactBytes = options.compactBytes ?? 64 << 20
    this.#revision = tail.revision
    this.#checksum = tail.checksum
    this.#synced = { size: 0, revision: tail.revision, checksum: tail.checksum, commits: 0 }
    this.#snapshotRevision = tail.snapshotRevision
    this.#sinceSnapshot = tail.bytesSinceSnapshot
    this.#group = new GroupFsync(
      () => this.#fsync(),
      (error) =>
        process.emitWarning(`zstate: the log's fsync failed: ${(error as Error).message}`, {
          code: 'ZSTATE_FSYNC_FAILED',
        }),
    )
  }

  /** The revision of the last commit appended (or the tail's). */
  get revision(): number {
    return this.#revision
  }

  // Writes one turn's commits (consecutive, following `revision`) with one writev, no fsync. Throws
  // ERR_STORAGE when it cannot, leaving nothing of them in the file.
  append(commits: readonly Buffer[]): void {
    this.#usable()
    if (commits.length === 0) return
    if (commitHead(commits[0]!)?.revision !== this.#revision + 1)
      throw new RangeError(`append: the first commit must be revision ${this.#revision + 1}`)
    if (this.#fd === undefined) throw new RangeError('append: the log has no epoch yet (newEpoch)')
    if (this.#size >= this.#segmentBytes && this.#segmentCommits > 0) this.#roll(this.#epoch!)
    const { buffers, bytes, lastChecksum } = frameRecords(RecordKind.COMMIT, commits)
    this.#write(buffers, bytes)
    this.#revision += commits.length
    this.#checksum = lastChecksum
    this.#segmentCommits += commits.length
    this.#sinceSnapshot += bytes
    if (this.#policy === 'interval') this.#group.soon(INTERVAL_MS)
  }

  // Resolves once everything appended before the call is on disk; rejects with ERR_STORAGE (then
  // rewind()). The fsync runs on libuv's thread pool (fs.fdatasync, not its Sync): the event loop goes
  // on serving while the disk flushes, and turns appended meanwhile share the next fsync. A roll fsyncs
  // synchronously instead: it must finish the old segment before the new one gets a byte (else a
  // crash could keep the new one's commits and lose the old one's), and it is rare.
  durable(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closed())
    if (this.#fault !== undefined) return Promise.reject(this.#fault)
    if (this.#synced.size === this.#size) return Promise.resolve()
    return this.#group.request()
  }

  // The fsync durable() would start, done at once on this thread: for a loop with nothing else to do,
  // where waiting for the thread pool only adds its hop (about a third of a bare fsync here). false
  // when an fsync is in flight (its turn comes first); throws ERR_STORAGE (then rewind()).
  syncNow(): boolean {
    if (this.#closing !== undefined) throw closed()
    if (this.#fault !== undefined) throw this.#fault
    if (this.#group.busy) return false
    if (this.#synced.size === this.#size) return true
    const start = performance.now()
    try {
      fdatasyncSync(this.#fd!)
      this.#tally(start)
    } catch (error) {
      throw (this.#fault = storageError(`cannot fsync the log ${this.#path}`, error))
    }
    this.#synced = this.#position()
    return true
  }

  // After a failed fsync: cuts the log back to what the last good fsync covered (the kernel may have
  // dropped the pages it could not write, and reports that only once). Returns the revision the log
  // ends at. Never throws: a log that cannot be cut back goes on refusing appends.
  rewind(): number {
    if (this.#fault === undefined || this.#fd === undefined) return this.#revision
    try {
      cutBack(this.#fd, this.#synced.size, this.#segmentBytes)
      fsyncSync(this.#fd)
    } catch {
      return this.#revision
    }
    this.#generation++
    this.#size = this.#synced.size
    this.#revision = this.#synced.revision
    this.#checksum = this.#synced.checksum
    this.#segmentCommits = this.#synced.commits
    this.#fault = undefined
    return this.#revision
  }

  // Starts a new segment whose header names `epoch`; the one before is fsynced first. A segment
  // that holds no commit yet is replaced.
  newEpoch(epoch: string): void {
    this.#usable()
    this.#roll(epoch)
  }

  /** The last revision a good fsync covered: what a snapshot may be taken up to. */
  syncedRevision(): number {
    return this.#synced.revision
  }

  /**
   * Whether the log has grown `minBytes` (default: the compaction threshold) past the last snapshot,
   * with synced commits a new one could hold.
   */
  compactionDue(minBytes = this.#compactBytes): boolean {
    return this.#sinceSnapshot >= minBytes && this.#synced.revision > this.#snapshotRevision
  }

  /** A snapshot of `revision` is written: compactionDue() counts from now. */
  compacted(revision: number): void {
    this.#snapshotRevision = Math.max(this.#snapshotRevision, revision)
    this.#sinceSnapshot = 0
  }

  // Appends CLEAN when `clean` (a restart may keep the epoch), fsyncs and closes. Rejects with
  // ERR_STORAGE when the log could not be made durable. Idempotent.
  close(clean: boolean): Promise<void> {
    return (this.#closing ??= this.#close(clean))
  }

  async #close(clean: boolean): Promise<void> {
    await this.#group.settled()
    let failure = this.#fault
    const fd = this.#fd
    if (failure === undefined && fd !== undefined) {
      try {
        const record = frameRecord(RecordKind.CLEAN)
        if (clean) this.#write([record], record.length)
        await finish(fd, this.#size)
        this.#synced = this.#position()
      } catch (error) {
        failure =
          error instanceof ZStateError ? error : storageError(`cannot close the log ${this.#path}`, error)
      }
    }
    for (const retired of this.#retired.splice(0)) closeSync(retired)
    if (fd !== undefined) closeSync(fd)
    this.#fd = undefined
    if (failure !== undefined) throw failure
  }

  #usable(): void {
    if (this.#closing !== undefined) throw closed()
    const fault = this.#fault
    if (fault !== undefined)
      throw new ZStateError(ErrorCode.STORAGE, `the log takes no writes: ${fault.message}`, { cause: fault })
  }

  // Writes at the end of the open segment, all or nothing.
  #write(buffers: Uint8Array[], bytes: number): void {
    try {
      appendAll(this.#fd!, buffers, bytes, this.#size, this.#segmentBytes, (cutError) => {
        this.#fault = storageError(`cannot cut ${this.#path} back after a failed write`, cutError)
      })
    } catch (error) {
      throw storageError(`cannot append to the log ${this.#path}`, error)
    }
    this.#size += bytes
  }

  // The open segment cut to its records and fsynced, then a new one after the last appended revision.
  // Throws ERR_STORAGE; the open segment stays when the new one cannot be made.
  #roll(epoch: string): void {
    const old = this.#fd
    if (old !== undefined) {
      try {
        finishSync(old, this.#size)
      } catch (error) {
        throw (this.#fault = storageError(`cannot finish the log segment ${this.#path}`, error))
      }
    }
    const segment = createSegment(
      this.#dir,
      epoch,
      this.#revision + 1,
      this.#segmentBytes,
      this.#policy === 'always',
      this.#checksum,
    )
    this.#generation++
    this.#fd = segment.fd
    this.#path = segment.path
    this.#size = segment.size
    this.#segmentCommits = 0
    this.#epoch = epoch
    this.#synced = this.#position()
    if (old === undefined) return
    // An fsync in flight may still use the old fd: it is closed once none is.
    if (this.#group.busy) this.#retired.push(old)
    else closeSync(old)
  }

  // Where the open segment ends now: what an fsync starting now covers.
  #position(): Position {
    return {
      size: this.#size,
      revision: this.#revision,
      checksum: this.#checksum,
      commits: this.#segmentCommits,
    }
  }

  // One fsync for the group: what the open segment holds when it starts is what it covers.
  #tally(start: number): void {
    this.fsyncTally.fsyncs++
    this.fsyncTally.fsyncSeconds += (performance.now() - start) / 1000
  }

  async #fsync(): Promise<void> {
    if (this.#fault !== undefined) throw this.#fault
    const fd = this.#fd!
    const generation = this.#generation
    const covers = this.#position()
    const start = performance.now()
    try {
      await fdatasyncAsync(fd)
      this.#tally(start)
    } catch (error) {
      throw (this.#fault ??= storageError(`cannot fsync the log ${this.#path}`, error))
    } finally {
      if (this.#retired.length > 0) for (const retired of this.#retired.splice(0)) closeSync(retired)
    }
    if (generation === this.#generation && covers.size > this.#synced.size) this.#synced = covers
  }
}

interface Position {
  readonly size: number
  readonly revision: number
  readonly checksum: number | undefined
  readonly commits: number
}

// A finished segment cut to its records, which are on disk first: a cut that reached the disk before
// them would leave a segment shorter than it was made and ending inside a record, which a crash must
// not (lib/storage/segment-reader.ts). The second sync writes the new size.
async function finish(fd: number, size: number): Promise<void> {
  await fdatasyncAsync(fd)
  ftruncateSync(fd, size)
  await fsyncAsync(fd)
}
function finishSync(fd: number, size: number): void {
  fdatasyncSync(fd)
  ftruncateSync(fd, size)
  fsyncSync(fd)
}

function closed(): ZStateError {
  return new ZStateError(ErrorCode.CLOSED, 'the log is closed')
}
