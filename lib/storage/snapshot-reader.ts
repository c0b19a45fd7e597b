// Reading a snapshot file: HEADER [format, epoch, revision, entryCount], ENTRIES records of
// [key, keyRevision, value, lease?] entries (each value the key's encoded bytes, as the store keeps
// them; a lease for ephemeral and expiring keys), END. A snapshot is written whole and renamed into place, so any fault in it is damage.
import { readFileSync } from 'node:fs'
import { ErrorCode, ZStateError } from '../errors.ts'
import { decode, readStringAt, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import { isRevision } from '../protocol/frames.ts'
import { readLease } from '../protocol/leases.ts'
import type { WireLease } from '../protocol/ops.ts'
import { readHeader, readRevision, type DirFile } from './layout.ts'
import { RecordKind, scanRecords, type ScannedRecord } from './records.ts'

export type SnapshotEntry = readonly [
  key: string,
  keyRevision: number,
  value: Buffer,
  lease: WireLease | undefined,
]

export interface Snapshot {
  readonly epoch: string
  readonly revision: number
  readonly entryCount: number
  // Read lazily from the file's bytes (already checked): the values are views into them.
  readonly entries: Iterable<SnapshotEntry>
}

// The snapshot in `file`, every record and entry checked; ERR_CORRUPT naming the file and offset.
export function readSnapshot(file: DirFile): Snapshot {
  const bytes = readFileSync(file.path)
  const corrupt = (offset: number, what: string): ZStateError =>
    new ZStateError(ErrorCode.CORRUPT, `${file.path}: ${what} at offset ${offset}`)
  const scan = scanRecords(bytes)
  if (scan.fault !== undefined) throw corrupt(scan.fault.offset, 'a bad record (length or checksum)')
  const [first, ...rest] = scan.records
  if (first?.kind !== RecordKind.HEADER) throw corrupt(0, 'no header')
  const header = readHeader(first.payload, 2)
  if (typeof header === 'string') throw corrupt(0, header)
  const [revision, entryCount] = header.numbers as [number, number]
  if (revision !== file.revision) throw corrupt(0, `a header naming revision ${revision}`)
  const last = rest.pop()
  if (last?.kind !== RecordKind.END) throw corrupt(scan.end, 'no END record')
  let count = 0
  for (const record of rest) {
    if (record.kind !== RecordKind.ENTRIES) throw corrupt(record.offset, `a record of kind ${record.kind}`)
    try {
      for (const [, keyRevision] of entriesOf(record)) {
        if (!isRevision(keyRevision) || keyRevision > revision)
          throw new RangeError(`key revision ${keyRevision} in a snapshot of revision ${revision}`)
        count++
      }
    } catch (error) {
      throw corrupt(record.offset, `malformed entries (${(error as Error).message})`)
    }
  }
  if (count !== entryCount) throw corrupt(0, `${count} entries where the header says ${entryCount}`)
  return {
    epoch: header.epoch,
    revision,
    entryCount,
    entries: {
      *[Symbol.iterator]() {
        for (const record of rest) yield* entriesOf(record)
      },
    },
  }
}

// The entries of one ENTRIES record, walked without decoding the values.
function* entriesOf(record: ScannedRecord): Generator<SnapshotEntry> {
  const bytes = record.payload
  const count = arrayLength(bytes, 0)
  let at = skipArrayHeader(bytes, 0)
  for (let i = 0; i < count; i++) {
    const items = arrayLength(bytes, at)
    if (items !== 3 && items !== 4) throw new RangeError('an entry is not [key, keyRevision, value, lease?]')
    at = skipArrayHeader(bytes, at)
    // Key and revision read in place: decoding each as a message would cost most of a restore.
    const key = readStringAt(bytes, at)
    const keyRevision = key && readRevision(bytes, key.next)
    if (key === undefined || keyRevision === undefined)
      throw new RangeError('an entry is not [key, keyRevision, value, lease?]')
    const valueEnd = skipItem(bytes, keyRevision.next)
    at = valueEnd
    let lease: WireLease | undefined
    if (items === 4) {
      const leaseEnd = skipItem(bytes, at)
      lease = readLease(decode(bytes.subarray(at, leaseEnd)))
      if (lease === undefined)
        throw new RangeError(`the entry of ${JSON.stringify(key.value)} has a malformed lease`)
      at = leaseEnd
    }
    yield [key.value, keyRevision.value, bytes.subarray(keyRevision.next, valueEnd), lease]
  }
  if (at !== bytes.length) throw new RangeError('trailing bytes after the entries')
}

function arrayLength(bytes: Buffer, at: number): number {
  const token = bytes[at]
  if (token !== undefined && token >= 0x90 && token <= 0x9f) return token - 0x90
  if (token === 0xdc && at + 3 <= bytes.length) return bytes.readUInt16BE(at + 1)
  if (token === 0xdd && at + 5 <= bytes.length) return bytes.readUInt32BE(at + 1)
  throw new RangeError(`no array at ${at}`)
}
