// The changes recovery makes to a data dir (lib/storage/recovery.ts), each fsynced and, when it drops
// something written, announced with a warning: a torn tail cut off, the log cut at damage, damaged
// history dropped; a segment's unused zeros cut silently.
import { closeSync, fsyncSync, ftruncateSync, openSync, rmSync } from 'node:fs'
import { fsyncDirSync } from './layout.ts'
import { lastRevisionFrom, type SegmentRead } from './segment-reader.ts'

export interface Damage {
  readonly index: number
  readonly offset: number
  readonly reason: string
}

// Cuts the last segment back to its good records (removes it when not even its header is good). The
// warning counts what was written there: the zeros after it are the segment's unused preallocation.
export function cutTornTail(read: SegmentRead): void {
  const { path } = read.file
  const { bytes, end } = read
  let written = bytes.length
  while (written > end && bytes[written - 1] === 0) written--
  truncate(path, end)
  process.emitWarning(`zstate: ${path}: cut a torn tail of ${written - end} bytes at offset ${end}`, {
    code: 'ZSTATE_TORN_TAIL',
  })
}

// Cuts the zeros after a segment's records (where a run that did not close it would have gone on):
// nothing was written there, so nothing is lost and nobody is warned.
export function cutZeros(read: SegmentRead): void {
  truncate(read.file.path, read.end)
}

// The log cut at the first bad record: that segment truncated, every later one removed. `kept`:
// the revision the state still reaches.
export function cutLog(dir: string, reads: readonly SegmentRead[], damage: Damage, kept: number): void {
  const { path } = reads[damage.index]!.file
  let seen = lastRevisionFrom(reads[damage.index]!.bytes, damage.offset)
  for (const read of reads.slice(damage.index + 1)) seen = Math.max(seen, lastRevisionFrom(read.bytes, 0))
  truncate(path, damage.offset)
  for (const read of reads.slice(damage.index + 1)) rmSync(read.file.path)
  fsyncDirSync(dir)
  process.emitWarning(
    `zstate: repair: cut the log at ${path} offset ${damage.offset} (${damage.reason}): ` +
      `${Math.max(0, seen - kept)} revision(s) after revision ${kept} dropped`,
    { code: 'ZSTATE_REPAIRED' },
  )
}

// Damage in history the snapshot holds: that segment and the ones before it removed, no revision lost.
export function dropHistory(
  dir: string,
  reads: readonly SegmentRead[],
  damage: Damage,
  snapshot: number,
): void {
  const { path } = reads[damage.index]!.file
  for (const read of reads.slice(0, damage.index + 1)) rmSync(read.file.path)
  fsyncDirSync(dir)
  process.emitWarning(
    `zstate: repair: ${path} is damaged at offset ${damage.offset} (${damage.reason}); the snapshot of ` +
      `revision ${snapshot} holds all it held: it and the segments before it were removed, no revision dropped`,
    { code: 'ZSTATE_REPAIRED' },
  )
}

function truncate(path: string, length: number): void {
  if (length === 0) return rmSync(path)
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, length)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
