// What a data dir holds (docs/durability.md): log segments `log-<first revision>.zlog`, snapshots
// `snapshot-<revision>.zsnap` (revisions as 20 digits, so names sort as numbers), `LOCK`, and
// `*.tmp` files on their way to a name, which readers ignore. Also the payloads every file starts
// with, and how a commit payload names its revision.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
} from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { decode, encode, FIXED_BYTES, skipArrayHeader, uint } from '../protocol/codec.ts'
import { isList, isRevision } from '../protocol/frames.ts'

// Format 2 adds SET_ENCODED changes to logged commits; format 3, to a segment's header, whether the
// run that wrote it fsynced every commit before publishing it; format 4, to each header, the checksum
// of the commit it follows (a segment: the one before its first; a snapshot: its last); format 5, to
// a segment's header, the length it was made with, so that a segment cut shorter than that inside a
// record reads as damage, not as a crash's torn tail (lib/storage/segment-reader.ts). This version
// reads formats 1 to 4 too; their segments name no length, and a torn last record in them is cut
// off whatever the file's length (a snapshot is the same in formats 4 and 5).
export const FORMAT = 5
const READS_FORMATS: readonly number[] = [1, 2, 3, 4, 5]
export const LOCK_FILE = 'LOCK'

const SEGMENT = /^log-(\d{20})\.zlog$/
const SNAPSHOT = /^snapshot-(\d{20})\.zsnap$/

export function segmentName(firstRevision: number): string {
  return `log-${String(firstRevision).padStart(20, '0')}.zlog`
}
export function snapshotName(revision: number): string {
  return `snapshot-${String(revision).padStart(20, '0')}.zsnap`
}

export interface DirFile {
  readonly name: string
  readonly path: string
  // The first revision of a segment; the revision of a snapshot.
  readonly revision: number
}

// The segments and the snapshots of a dir, each oldest first.
export function listDir(dir: string): { segments: DirFile[]; snapshots: DirFile[] } {
  const segments: DirFile[] = []
  const snapshots: DirFile[] = []
  for (const name of readdirSync(dir)) {
    const segment = SEGMENT.exec(name)
    const snapshot = segment === null ? SNAPSHOT.exec(name) : null
    const digits = segment?.[1] ?? snapshot?.[1]
    if (digits === undefined) continue
    ;(segment !== null ? segments : snapshots).push({ name, path: join(dir, name), revision: Number(digits) })
  }
  const order = (a: DirFile, b: DirFile): number => a.revision - b.revision
  return { segments: segments.sort(order), snapshots: snapshots.sort(order) }
}

// HEADER of a segment: [format, epoch, firstRevision, synced, length, previous?], synced 1 when the
// run that writes it has fsync 'always' (nothing it published is missing from the disk), else 0;
// length: the bytes the file was made with (zeros after the header); previous: the checksum of commit
// firstRevision − 1 (commitChecksum), left out when there is none or it is unknown (the log went on
// from a snapshot older than format 4).
export function segmentHeader(
  epoch: string,
  firstRevision: number,
  synced: boolean,
  length: number,
  previous: number | undefined,
): Buffer {
  return encode([FORMAT, epoch, firstRevision, synced ? 1 : 0, length, ...optional(previous)])
}
// HEADER of a snapshot: [format, epoch, revision, entryCount, last?], last: the checksum of the commit
// of `revision`, left out when unknown.
export function snapshotHeader(
  epoch: string,
  revision: number,
  entryCount: number,
  last: number | undefined,
): Buffer {
  return encode([FORMAT, epoch, revision, entryCount, ...optional(last)])
}

function optional(checksum: number | undefined): number[] {
  return checksum === undefined ? [] : [checksum]
}

// A checksum a header names: a CRC-32.
export function isChecksum(value: number | undefined): boolean {
  return value === undefined || value <= 0xffffffff
}

// Reads a HEADER payload: [format, epoch, ...numbers], `numbers` of them, or up to `optional` more
// (which older formats did not write); a string saying what is wrong otherwise.
export function readHeader(
  payload: Buffer,
  numbers: number,
  optional = 0,
): { format: number; epoch: string; numbers: number[] } | string {
  let header: unknown
  try {
    header = decode(payload)
  } catch {
    return 'header is not MessagePack'
  }
  if (!isList(header) || header.length < 2 + numbers || header.length > 2 + numbers + optional)
    return 'header has the wrong shape'
  const [format, epoch, ...rest] = header
  if (typeof format !== 'number' || !READS_FORMATS.includes(format))
    return `unknown format ${String(format)} (this version reads ${READS_FORMATS.join(', ')})`
  if (typeof epoch !== 'string' || !rest.every(isRevision)) return 'header has the wrong shape'
  return { format, epoch, numbers: rest }
}

// [revision, previous] of an encoded commit [revision, previous, changes, ...origin], read without
// decoding the rest; undefined when the bytes do not start that way.
export function commitHead(bytes: Uint8Array): { revision: number; previous: number } | undefined {
  try {
    let at = skipArrayHeader(bytes, 0)
    const revision = readRevision(bytes, at)
    if (revision === undefined) return undefined
    at = revision.next
    const previous = readRevision(bytes, at)
    if (previous === undefined || previous.next > bytes.length) return undefined
    return { revision: revision.value, previous: previous.value }
  } catch {
    return undefined
  }
}

// A revision (a non-negative integer as msgpackr writes a JS number: fixint, uint 8…64, or float 64
// past 32 bits) whose item starts at `at`, and where it ends; undefined for anything else.
export function readRevision(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  const token = bytes[at]
  if (token === undefined) return undefined
  if (token < 0x80) return { value: token, next: at + 1 }
  const size = token >= 0xcb && token <= 0xcf ? FIXED_BYTES[token - 0xca]! : 0
  if (size === 0 || at + 1 + size > bytes.length) return undefined
  const value =
    token === 0xcb
      ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(at + 1)
      : uint(bytes, at + 1, size)
  return isRevision(value) ? { value, next: at + 1 + size } : undefined
}

// mkdir -p, durably: a dir it makes is in its parent's entries on disk before anything is written in
// it. Each missing level is made alone, from the top, so an error is the file system's own reason for
// that level (Node's recursive mkdir says ENOENT wherever a dir cannot be made, EROFS on a read-only
// mount included, and loops for ever under /proc).
export function makeDir(dir: string): void {
  const missing: string[] = []
  for (let at = resolve(dir); !existsSync(at); at = dirname(at)) {
    missing.unshift(at)
    if (dirname(at) === at) break
  }
  // There already: a dir, or ENOTDIR saying what stands there instead (mkdir's EEXIST would not).
  if (missing.length === 0) {
    const stat = statSync(dir)
    if (!stat.isDirectory())
      throw Object.assign(new Error(`it is ${stat.isFile() ? 'a file, ' : ''}not a directory`), {
        code: 'ENOTDIR',
        path: dir,
      })
    return
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode: 0o700 })
    } catch (error) {
      // Made meanwhile by someone else: as good.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(level).isDirectory()) throw error
    }
  }
  fsyncDirSync(dirname(missing[0]!))
}

// Makes a dir's entries (files created, renamed, removed) durable.
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

// readFileSync of a file of the dir; its error names the file even where Node's does not (EISDIR
// of a read names no path).
export function readDirFile(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    ;(error as NodeJS.ErrnoException).path ??= path
    throw error
  }
}
