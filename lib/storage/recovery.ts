// Reading a data dir back at start: the newest good snapshot and the log's commits after it. A
// torn tail of the last segment (what a crash interrupted) is cut off with a warning, and the zeros
// a segment was made with and never filled without one; anything wrong before it is ERR_CORRUPT, or
// with `repair` cut there too. Call it holding the dir's lock.
import { rmSync } from 'node:fs'
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { fsyncDirSync, listDir, makeDir, type DirFile } from './layout.ts'
import { FRAME_BYTES, commitChecksum } from './records.ts'
import { cutLog, cutTornTail, cutZeros, dropHistory, type Damage } from './repair.ts'
import { readSegment, type SegmentRead } from './segment-reader.ts'
import { readSnapshot, type Snapshot } from './snapshot-reader.ts'

/** What a LogWriter continues from (LogWriter.open). */
export interface LogTail {
  // The revision the next commit follows: the log's last, or the snapshot's when that is newer.
  readonly revision: number
  // The checksum of that commit (commitChecksum), which the next segment's header names; undefined
  // when unknown (a snapshot older than format 4) or there is none.
  readonly checksum: number | undefined
  // The epoch the log's last header names; the snapshot's when the log has none.
  readonly epoch: string | undefined
  readonly snapshotRevision: number
  // Bytes of the log's records after the snapshot: how far the log has grown past it.
  readonly bytesSinceSnapshot: number
}

export interface Recovered {
  readonly snapshot: Snapshot | undefined
  // Every COMMIT payload of the log that chains up to `tail.revision`, in order, with consecutive
  // revisions (some may be at or before the snapshot's: history). Empty when the log does not
  // reach the snapshot's revision.
  readonly commits: Buffer[]
  readonly epoch: string | undefined
  // The log ends with CLEAN: the last server closed it, and nothing was cut.
  readonly cleanClose: boolean
  // Whether the last server to write the log fsynced every commit before publishing it (fsync
  // 'always'); undefined when its segments do not say (written by a version before format 3).
  readonly lastRunSynced: boolean | undefined
  // Repair cut commits that were on disk, so they may have been replied and published: clients
  // must not resume past them (a new epoch).
  readonly cutCommits: boolean
  readonly tail: LogTail
}

// What a segment past the snapshot counts for, however little it holds: a clean close that finds
// 1 MiB logged since the snapshot writes one, so 16 short runs do.
const SEGMENT_WEIGHT = 64 << 10

export async function recover(dir: string, options: { repair: boolean }): Promise<Recovered> {
  makeDir(dir)
  const { segments, snapshots } = listDir(dir)
  const reads = segments.map((file) => readSegment(file))
  const snapshot = chooseSnapshot(dir, snapshots, reads[0]?.file.revision, options.repair)
  const base = snapshot?.revision ?? 0
  let commits: Buffer[] = []
  let lastCommit: number | undefined // the revision of commits.at(-1)
  let epoch = snapshot?.epoch
  let clean = false
  let expected: number | undefined // the revision the next segment must start with
  let cut: Damage | undefined
  let dropped: Damage | undefined
  const keep = (read: SegmentRead, gap: boolean): void => {
    // After a gap the snapshot covers (the log was cut at a crash, then a snapshot went further),
    // what came before is no longer contiguous history.
    if (gap) commits = []
    // Not push(...): a segment can hold more commits than a call takes arguments.
    for (const commit of read.commits) commits.push(commit)
    lastCommit = commits.length > 0 ? read.lastRevision : undefined
    if (read.epoch !== undefined) epoch = read.epoch
  }
  for (const [index, read] of reads.entries()) {
    const chain = chainDamage(index, read, expected, base)
    const follows = chain === undefined && lastCommit === read.file.revision - 1 ? commits.at(-1) : undefined
    const damage =
      chain === 'gap' || chain === undefined
        ? (linkDamage(index, read, follows, snapshot) ?? faultDamage(index, read, reads.length))
        : chain
    if (damage === undefined) {
      keep(read, chain === 'gap')
      expected = read.lastRevision + 1
      clean = read.clean && read.fault === undefined
      if (read.fault !== undefined) cutTornTail(read)
      else if (read.end < read.bytes.length) cutZeros(read)
      continue
    }
    // With repair, damage in a segment the snapshot holds entirely costs history only.
    const next = reads[index + 1]
    if (options.repair && next !== undefined && next.file.revision <= base + 1) {
      dropped = damage
      commits = []
      lastCommit = expected = undefined
      continue
    }
    // What is good before the damage stays.
    if (damage.offset > 0) keep(read, chain === 'gap')
    cut = damage
    break
  }
  // The state reaches the snapshot's revision, or the log's last when that is further.
  const revision = Math.max(base, lastCommit ?? 0)
  if (snapshot !== undefined) checkSnapshotCommit(snapshot, reads, commits, lastCommit)
  if (cut !== undefined) {
    const { path } = reads[cut.index]!.file
    if (!options.repair)
      throw new ZStateError(
        ErrorCode.CORRUPT,
        `${path}: at offset ${cut.offset}, ${cut.reason} (start with repair: true, or zstate serve --repair, to cut the log there)`,
      )
    cutLog(dir, reads, cut, revision)
    clean = false
  }
  if (dropped !== undefined) dropHistory(dir, reads, dropped, base)
  // History must run up to the state's revision.
  if (lastCommit === undefined || lastCommit < base) commits = []
  let bytesSinceSnapshot = 0
  commits.forEach((payload, i) => {
    if (revision - (commits.length - 1 - i) > base) bytesSinceSnapshot += FRAME_BYTES + payload.length
  })
  // Each run starts a segment of its own, and each costs a start its file: a segment past the
  // snapshot counts as SEGMENT_WEIGHT at least, so many short runs bring a snapshot (and the removal
  // of what it covers) as much logging would (an outside audit counted 100 files after 100 runs).
  for (const read of reads)
    if (Math.max(read.file.revision, read.lastRevision) > base) bytesSinceSnapshot += SEGMENT_WEIGHT
  const checksum =
    lastCommit === revision && commits.length > 0 ? commitChecksum(commits.at(-1)!) : snapshot?.lastChecksum
  const tail = { revision, checksum, epoch, snapshotRevision: base, bytesSinceSnapshot }
  // The run that wrote last: its newest segment with a header says how it synced.
  const lastRun = reads.findLast((read) => read.epoch !== undefined)
  return {
    snapshot,
    commits,
    epoch,
    cleanClose: clean,
    lastRunSynced: lastRun?.synced,
    cutCommits: cut !== undefined,
    tail,
  }
}

// Whether segment `index` starts where the log before it ends: 'gap' when it starts later but the
// snapshot covers what is missing; damage (at offset 0) when it cannot continue the log.
function chainDamage(
  index: number,
  read: SegmentRead,
  expected: number | undefined,
  base: number,
): Damage | 'gap' | undefined {
  const first = read.file.revision
  if (first === expected) return undefined
  if (first <= base + 1 && expected === undefined) return undefined
  if (first <= base + 1 && expected !== undefined && first > expected) return 'gap'
  const reason =
    expected !== undefined && first < expected
      ? `the segment starts at revision ${first}, before ${expected}`
      : `revisions ${expected ?? base + 1}..${first - 1} are missing`
  return { index, offset: 0, reason }
}

// Segment `index` names the checksum of the commit before its first (format 4): when that commit is
// in the log before it (`follows`), a different checksum is damage, the segment being of another data
// dir or history (repair cuts the log there, as at any damage). When the snapshot holds that commit,
// the two cannot both be of this log, and nothing says which is: refused, repair or not.
function linkDamage(
  index: number,
  read: SegmentRead,
  follows: Buffer | undefined,
  snapshot: Snapshot | undefined,
): Damage | undefined {
  const named = read.previousChecksum
  const before = read.file.revision - 1
  if (named === undefined) return undefined
  if (follows !== undefined) {
    const held = commitChecksum(follows)
    if (held === named) return undefined
    const reason = `the segment follows a commit of revision ${before} with checksum ${named}, the log before it holds one with ${held}: it is from another data dir or history`
    return { index, offset: 0, reason }
  }
  if (snapshot?.revision === before && snapshot.lastChecksum !== undefined && snapshot.lastChecksum !== named)
    throw foreign(snapshot, read.file.path, before, named)
  return undefined
}

// The snapshot names the checksum of its last commit (format 4): where the log holds that commit too,
// it must be the same one. Refused otherwise, repair or not, as linkDamage refuses a segment.
function checkSnapshotCommit(
  snapshot: Snapshot,
  reads: readonly SegmentRead[],
  commits: readonly Buffer[],
  lastCommit: number | undefined,
): void {
  const at = commits.length - 1 - ((lastCommit ?? 0) - snapshot.revision)
  if (snapshot.lastChecksum === undefined || lastCommit === undefined || at < 0 || at >= commits.length)
    return
  const held = commitChecksum(commits[at]!)
  if (held === snapshot.lastChecksum) return
  const segment = reads.findLast((read) => read.file.revision <= snapshot.revision)!
  throw foreign(snapshot, segment.file.path, snapshot.revision, held)
}

function foreign(snapshot: Snapshot, segment: string, revision: number, checksum: number): ZStateError {
  return new ZStateError(
    ErrorCode.CORRUPT,
    `${snapshot.path}: the snapshot's commit of revision ${revision} has checksum ${snapshot.lastChecksum}, ` +
      `${segment} has one with ${checksum}: they are from different data dirs or histories. ` +
      'Remove the files that do not belong (repair cannot tell which)',
  )
}

// A bad part of a segment: damage, unless it is a torn tail of the last segment (cut off).
function faultDamage(index: number, read: SegmentRead, segments: number): Damage | undefined {
  const fault = read.fault
  if (fault === undefined || (fault.kind === 'torn' && index === segments - 1)) return undefined
  const reason = fault.kind === 'torn' ? `${fault.reason}, in a segment that is not the last` : fault.reason
  return { index, offset: fault.offset, reason }
}

// The newest snapshot that reads back whole. A damaged one is ERR_CORRUPT; with `repair`, an older
// one (or none) takes its place when the log reaches back to it, and otherwise it is refused still.
// A damaged snapshot that repair replaced is removed: it would be refused at the next start again,
// and would stop every compaction after it.
function chooseSnapshot(
  dir: string,
  snapshots: readonly DirFile[],
  logStart: number | undefined,
  repair: boolean,
): Snapshot | undefined {
  let damaged: ZStateError | undefined
  const damagedFiles: DirFile[] = []
  const fallBack = (snapshot?: Snapshot): Snapshot | undefined => {
    for (const file of damagedFiles) rmSync(file.path)
    fsyncDirSync(dir)
    return warnFallback(damaged!, snapshot)
  }
  for (let i = snapshots.length - 1; i >= 0; i--) {
    let snapshot: Snapshot
    try {
      snapshot = readSnapshot(snapshots[i]!)
    } catch (error) {
      if (!repair || !isZStateError(error) || error.code !== ErrorCode.CORRUPT) throw error
      damaged ??= error
      damagedFiles.push(snapshots[i]!)
      continue
    }
    if (damaged === undefined) return snapshot
    if (logStart === undefined || logStart <= snapshot.revision + 1) return fallBack(snapshot)
  }
  if (damaged === undefined || logStart === 1) return damaged === undefined ? undefined : fallBack()
  throw new ZStateError(
    ErrorCode.CORRUPT,
    `${damaged.message}; repair cannot replace it: no older snapshot that the log continues`,
    { cause: damaged },
  )
}

function warnFallback(damaged: ZStateError, snapshot?: Snapshot): Snapshot | undefined {
  const instead = snapshot === undefined ? 'the log alone' : `the snapshot of revision ${snapshot.revision}`
  process.emitWarning(`zstate: repair: ${damaged.message}; removed it, restoring from ${instead}`, {
    code: 'ZSTATE_REPAIRED',
  })
  return snapshot
}
