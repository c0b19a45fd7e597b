// File operations of the log's open segment (lib/storage/log-writer.ts): a new segment created whole,
// and appends that land entirely or not at all.
import {
  closeSync,
  fdatasync,
  fsync,
  fsyncSync,
  ftruncateSync,
  openSync,
  renameSync,
  rmSync,
  writevSync,
} from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ErrorCode, ZStateError } from '../errors.ts'
import { fsyncDirSync, segmentHeader, segmentName } from './layout.ts'
import { RecordKind, frameRecord } from './records.ts'

export function storageError(message: string, cause: unknown): ZStateError {
  return new ZStateError(ErrorCode.STORAGE, `${message}: ${(cause as Error).message}`, { cause })
}

// `log-<first>.zlog` holding its HEADER (which names `length`), `length` bytes long (zeros after the
// header): written under a temporary name, fsynced, renamed into place (over a segment of the same
// name, which holds no commit then), the dir fsynced. A crash leaves the segment whole or not there at
// all, so a segment without its header, or shorter than its length and ending inside a record, is
// damage, never a torn tail (lib/storage/segment-reader.ts). Made at its
// full length, the file's size never changes while commits fill it, so an fdatasync of an append has
// no inode to write (on ext4 here, 1/3 less time than an fsync that grows the file: docs/durability.md).
// Throws ERR_STORAGE.
export function createSegment(
  dir: string,
  epoch: string,
  first: number,
  length: number,
  synced: boolean,
  previousChecksum: number | undefined,
): { fd: number; path: string; size: number } {
  const path = join(dir, segmentName(first))
  const header = frameRecord(RecordKind.HEADER, segmentHeader(epoch, first, synced, length, previousChecksum))
  const temporary = `${path}.tmp`
  let fd: number | undefined
  try {
    fd = openSync(temporary, 'w', 0o600)
    writeAll(fd, [header], header.length, 0)
    if (length > header.length) ftruncateSync(fd, length)
    fsyncSync(fd)
    renameSync(temporary, path)
    fsyncDirSync(dir)
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(temporary, { force: true })
    throw storageError(`cannot start the log segment ${path}`, error)
  }
  return { fd, path, size: header.length }
}

// Writes `buffers` (`bytes` in all) at `at`, all or nothing: when it fails, everything from `at` on is
// cut back to zeros (cutBack) and the error thrown; when even that cut fails, `onCutFailed` hears of
// it first.
export function appendAll(
  fd: number,
  buffers: readonly Uint8Array[],
  bytes: number,
  at: number,
  length: number,
  onCutFailed: (error: unknown) => void,
): void {
  try {
    writeAll(fd, buffers, bytes, at)
  } catch (error) {
    try {
      cutBack(fd, at, length)
    } catch (cutError) {
      onCutFailed(cutError)
    }
    throw error
  }
}

// Drops what the file holds from `at` on: cut there, then made `length` long again with zeros (the
// length it was made with), which takes no disk space.
export function cutBack(fd: number, at: number, length: number): void {
  ftruncateSync(fd, at)
  if (length > at) ftruncateSync(fd, length)
}

function writeAll(fd: number, buffers: readonly Uint8Array[], bytes: number, at: number): void {
  let written = 0
  while (written < bytes) {
    // libuv reports a write that failed after a partial one as short: the next one says why.
    const n = writevSync(fd, remaining(buffers, written), at + written)
    if (n === 0) throw new Error('the disk took no bytes')
    written += n
  }
}

// The buffers from byte `skip` on.
function remaining(buffers: readonly Uint8Array[], skip: number): readonly Uint8Array[] {
  if (skip === 0) return buffers
  const rest: Uint8Array[] = []
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
      skip = 0
    }
  }
  return rest
}

// fsync and fdatasync (the data and what reading it back needs, a new size or new blocks, not the
// inode's times) on libuv's thread pool: the event loop goes on serving while the disk flushes.
export const fsyncAsync = promisify(fsync)
export const fdatasyncAsync = promisify(fdatasync)
