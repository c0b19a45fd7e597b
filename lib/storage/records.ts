// Record framing for every file in a data dir: [payload length: u32 LE][crc32 of kind + payload:
// u32 LE][kind: u8][payload]. The checksum covers the kind, so a flipped kind byte is caught too.
import { crc32 } from 'node:zlib'

export const RecordKind = { HEADER: 1, COMMIT: 2, CLEAN: 3, ENTRIES: 4, END: 5 } as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

export const FRAME_BYTES = 9

// The checksum of each kind byte alone, which every record's checksum continues.
const SEEDS: readonly number[] = [0, 1, 2, 3, 4, 5].map((kind) => crc32(Buffer.of(kind)))

function checksum(kind: number, payload: Uint8Array): number {
  return crc32(payload, SEEDS[kind])
}

// The checksum the COMMIT record of `payload` carries: a snapshot and a segment header name the
// commit before them by it (lib/storage/layout.ts), so that files of two histories never chain.
export function commitChecksum(payload: Uint8Array): number {
  return checksum(RecordKind.COMMIT, payload)
}

// Frames records as buffers for one writev: one shared buffer of frames, the payloads as they are
// (never copied). `bytes`: how many bytes the buffers hold; `lastChecksum`: the last record's.
export function frameRecords(
  kind: RecordKind,
  payloads: readonly Uint8Array[],
): { buffers: Uint8Array[]; bytes: number; lastChecksum: number } {
  const frames = Buffer.allocUnsafe(FRAME_BYTES * payloads.length)
  const buffers: Uint8Array[] = []
  let bytes = frames.length
  let lastChecksum = 0
  payloads.forEach((payload, i) => {
    const at = FRAME_BYTES * i
    lastChecksum = checksum(kind, payload)
    frames.writeUInt32LE(payload.length, at)
    frames.writeUInt32LE(lastChecksum, at + 4)
    frames[at + 8] = kind
    buffers.push(frames.subarray(at, at + FRAME_BYTES), payload)
    bytes += payload.length
  })
  return { buffers, bytes, lastChecksum }
}

// One framed record as a single buffer (headers, CLEAN, END: small things).
export function frameRecord(kind: RecordKind, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const { buffers, bytes } = frameRecords(kind, [payload])
  return Buffer.concat(buffers, bytes)
}

export interface ScannedRecord {
  readonly kind: RecordKind
  // Where its frame starts in the file.
  readonly offset: number
  // A view into the scanned bytes.
  readonly payload: Buffer
}

// Why a scan stopped before the end of the bytes: `torn` (what was being written when the writer
// stopped: cut it off) or `damage` (the file went bad before its tail).
export interface ScanFault {
  readonly kind: 'torn' | 'damage'
  // Where the first bad record starts: everything before it is good.
  readonly offset: number
  // damage: where the next valid record starts.
  readonly resume?: number
}

export interface Scan {
  readonly records: ScannedRecord[]
  // Where the good records end: the file's length when nothing is wrong.
  readonly end: number
  readonly fault: ScanFault | undefined
}

// Reads records from `from` to the end of `bytes`, stopping at the first bad one: a frame that runs
// past the end of the bytes, an unknown kind or a checksum that does not match. Zeros from a record's
// end to the end of the bytes are where the log would have gone on: a segment is made at its full
// size (lib/storage/segment-file.ts), so a segment still being written ends so, and that is no fault.
//
// Torn tail or damage: a crash can leave anything after the last complete write: part of a record,
// or (the file system having grown the file before the data reached the disk) zeros or stale
// blocks, so any length, any checksum. The only evidence of damage is a valid record *after* the
// bad one: a crash does not leave complete, checksummed records behind a gap. So a bad record is
// damage when some later offset frames a valid record, and a torn tail otherwise; no length on its
// own proves damage here (a segment's header says what length does: lib/storage/segment-reader.ts).
// Two consequences, accepted: a flipped bit in the very last record reads as a torn tail (that
// record is lost, with a warning); and a crash whose disk wrote a later page of the unsynced tail but
// not an earlier one reads as damage (refused until `repair`, which loses only what was never synced).
export function scanRecords(bytes: Buffer, from = 0): Scan {
  const records: ScannedRecord[] = []
  let at = from
  while (at < bytes.length) {
    const record = recordAt(bytes, at)
    if (record === undefined) {
      if (zerosFrom(bytes, at)) return { records, end: at, fault: undefined }
      const resume = nextValid(bytes, at + 1)
      const fault =
        resume === undefined
          ? { kind: 'torn' as const, offset: at }
          : { kind: 'damage' as const, offset: at, resume }
      return { records, end: at, fault }
    }
    records.push(record)
    at += FRAME_BYTES + record.payload.length
  }
  return { records, end: at, fault: undefined }
}

// Whether every byte from `at` on is 0.
function zerosFrom(bytes: Buffer, at: number): boolean {
  for (let i = at; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

// The record framed at `at`, when it is a valid one: its payload is the view the checksum ran over.
function recordAt(bytes: Buffer, at: number): ScannedRecord | undefined {
  if (at + FRAME_BYTES > bytes.length) return undefined
  const kind = bytes[at + 8]!
  if (kind < RecordKind.HEADER || kind > RecordKind.END) return undefined
  const end = at + FRAME_BYTES + bytes.readUInt32LE(at)
  if (end > bytes.length) return undefined
  const payload = bytes.subarray(at + FRAME_BYTES, end)
  if (checksum(kind, payload) !== bytes.readUInt32LE(at + 4)) return undefined
  return { kind: kind as RecordKind, offset: at, payload }
}

// The first offset from `from` on that frames a valid record. Only runs when a file is bad; the
// cheap checks (kind, length within the file) rule out nearly every offset before any checksum.
function nextValid(bytes: Buffer, from: number): number | undefined {
  for (let at = from; at + FRAME_BYTES <= bytes.length; at++) if (recordAt(bytes, at) !== undefined) return at
  return undefined
}
