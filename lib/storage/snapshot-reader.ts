// Reading a snapshot file: HEADER [format, epoch, revision, entryCount], ENTRIES records of
// [key, keyRevision, value, lease?] entries (each value the key's encoded bytes, as the store keeps
// them; a lease for ephemeral and expiring keys), END. A snapshot is written whole and renamed into
// place, so any fault in it is damage.
import { ErrorCode, ZStateError } from '../errors.ts'
import { decode, readStringAt, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import { readLease } from '../protocol/leases.ts'
import type { WireLease } from '../protocol/ops.ts'
import { isChecksum, readDirFile, readHeader, readRevision, type DirFile } from './layout.ts'
import { FRAME_BYTES, RecordKind, scanRecords, type ScannedRecord } from './records.ts'

// The entries as columns, in the file's order: entry i is key keys[i], written at revisions[i], its
// encoded value bytes starts[i]..ends[i] of the file (as the store keeps values: a restore points
// into the file instead of copying), with leases.get(i) for an ephemeral or expiring key.
export interface SnapshotEntries {
  readonly keys: string[]
  readonly revisions: Float64Array
  readonly starts: Float64Array
  readonly ends: Float64Array
  readonly leases: Map<number, WireLease>
}

export interface Snapshot {
  readonly path: string
  readonly epoch: string
  readonly revision: number
  readonly entryCount: number
  // The checksum of the commit of `revision` (commitChecksum), which the log, where it holds that
  // commit or goes on after it, must match; undefined when the header does not name it (formats 1 to 3).
  readonly lastChecksum: number | undefined
  // The whole file, already checked: the values lie in it.
  readonly bytes: Buffer
  readonly entries: SnapshotEntries
}

// The snapshot in `file`, every record and entry checked, in one walk that also gathers the entries;
// ERR_CORRUPT naming the file and offset.
export function readSnapshot(file: DirFile): Snapshot {
  const bytes = readDirFile(file.path)
  const corrupt = (offset: number, what: string): ZStateError =>
    new ZStateError(ErrorCode.CORRUPT, `${file.path}: ${what} at offset ${offset}`)
  const scan = scanRecords(bytes)
  if (scan.fault !== undefined) throw corrupt(scan.fault.offset, 'a bad record (length or checksum)')
  const [first, ...rest] = scan.records
  if (first?.kind !== RecordKind.HEADER) throw corrupt(0, 'no header')
  const header = readHeader(first.payload, 2, 1)
  if (typeof header === 'string') throw corrupt(0, header)
  const [revision, entryCount, lastChecksum] = header.numbers as [number, number, number | undefined]
  if (revision !== file.revision) throw corrupt(0, `a header naming revision ${revision}`)
  if (!isChecksum(lastChecksum)) throw corrupt(0, `a header naming a checksum of ${lastChecksum}`)
  const last = rest.pop()
  if (last?.kind !== RecordKind.END) throw corrupt(scan.end, 'no END record')
  // Every entry takes more than 4 bytes: a count beyond that cannot be read, whatever the file holds.
  if (entryCount > bytes.length / 4) throw corrupt(0, `a header naming ${entryCount} entries`)
  // Sized by the header, as columns of numbers: growing arrays of 100,000 entries and more cost a
  // restore its time in copies and garbage collection.
  const entries: SnapshotEntries = {
    keys: new Array<string>(entryCount),
    revisions: new Float64Array(entryCount),
    starts: new Float64Array(entryCount),
    ends: new Float64Array(entryCount),
    leases: new Map(),
  }
  let count = 0
  for (const record of rest) {
    if (record.kind !== RecordKind.ENTRIES) throw corrupt(record.offset, `a record of kind ${record.kind}`)
    try {
      count = readEntries(bytes, record, revision, entries, count)
    } catch (error) {
      throw corrupt(record.offset, `malformed entries (${(error as Error).message})`)
    }
  }
  if (count !== entryCount) throw corrupt(0, `${count} entries where the header says ${entryCount}`)
  return { path: file.path, epoch: header.epoch, revision, entryCount, lastChecksum, bytes, entries }
}

// Puts the entries of one ENTRIES record into `entries` from position `count` on, walking the
// file's bytes in place: the values are not decoded, and key and revision are read where they lie
// (decoding each entry as a message would cost most of a restore). Returns the count after them.
function readEntries(
  bytes: Buffer,
  record: ScannedRecord,
  revision: number,
  entries: SnapshotEntries,
  count: number,
): number {
  const end = record.offset + FRAME_BYTES + record.payload.length
  const within = (at: number): number => {
    if (at > end) throw new RangeError('an entry runs past its record')
    return at
  }
  let at = record.offset + FRAME_BYTES
  const inRecord = arrayLength(bytes, at)
  if (count + inRecord > entries.keys.length) throw new RangeError('more entries than the header says')
  at = within(skipArrayHeader(bytes, at))
  for (let i = 0; i < inRecord; i++) {
    const items = arrayLength(bytes, at)
    if (items !== 3 && items !== 4) throw new RangeError('an entry is not [key, keyRevision, value, lease?]')
    at = within(skipArrayHeader(bytes, at))
    const key = readStringAt(bytes, at)
    const keyRevision = key && readRevision(bytes, within(key.next))
    if (key === undefined || keyRevision === undefined)
      throw new RangeError('an entry is not [key, keyRevision, value, lease?]')
    // readRevision reads only revisions; one past the snapshot's cannot be in it.
    if (keyRevision.value > revision)
      throw new RangeError(`key revision ${keyRevision.value} in a snapshot of revision ${revision}`)
    const valueStart = within(keyRevision.next)
    const valueEnd = within(skipItem(bytes, valueStart))
    at = valueEnd
    if (items === 4) {
      const leaseEnd = within(skipItem(bytes, at))
      const lease = readLease(decode(bytes.subarray(at, leaseEnd)))
      if (lease === undefined)
        throw new RangeError(`the entry of ${JSON.stringify(key.value)} has a malformed lease`)
      entries.leases.set(count, lease)
      at = leaseEnd
    }
    entries.keys[count] = key.value
    entries.revisions[count] = keyRevision.value
    entries.starts[count] = valueStart
    entries.ends[count] = valueEnd
    count++
  }
  if (at !== end) throw new RangeError('trailing bytes after the entries')
  return count
}

function arrayLength(bytes: Buffer, at: number): number {
  const token = bytes[at]
  if (token !== undefined && token >= 0x90 && token <= 0x9f) return token - 0x90
  if (token === 0xdc && at + 3 <= bytes.length) return bytes.readUInt16BE(at + 1)
  if (token === 0xdd && at + 5 <= bytes.length) return bytes.readUInt32BE(at + 1)
  throw new RangeError(`no array at ${at}`)
}
