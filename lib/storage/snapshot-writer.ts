// Writing a snapshot file atomically: the whole file under a temporary name, fsynced, then renamed
// into place and the dir fsynced. A crash leaves the old snapshots and at most a `*.tmp` that
// readers ignore; a snapshot under its own name is always complete.
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode, ZStateError } from '../errors.ts'
import { arrayHeader, encode } from '../protocol/codec.ts'
import type { WireLease } from '../protocol/ops.ts'
import type { Store } from '../server/store.ts'
import { fsyncDir, snapshotHeader, snapshotName } from './layout.ts'
import { RecordKind, frameRecord, frameRecords } from './records.ts'

// Entries are packed into ENTRIES records of about this size: big enough that framing costs
// nothing, small enough that reading one back never holds much more than one value.
const ENTRIES_BYTES = 64 << 10

export type EntryToWrite = readonly [
  key: string,
  keyRevision: number,
  value: Uint8Array,
  lease?: WireLease | undefined,
]

export interface SnapshotToWrite {
  readonly epoch: string
  readonly revision: number
  // The checksum of the commit of `revision` (commitChecksum), when known.
  readonly lastChecksum?: number | undefined
  // Read once, before anything is written: a store's entries as storeEntries() captures them.
  readonly entries: Iterable<EntryToWrite>
}

// Every key of the store, its revision and its encoded value (views of bytes never written over),
// captured at the store's revision.
export function storeEntries(store: Store): EntryToWrite[] {
  const entries: EntryToWrite[] = []
  store.spans((key, chunk, start, end, revision, lease) =>
    entries.push([key, revision, chunk.subarray(start, end), lease]),
  )
  return entries
}

// Writes `snapshot-<revision>.zsnap` into `dir`; ERR_STORAGE when the disk refuses (nothing is left
// behind then).
export async function writeSnapshot(
  dir: string,
  snapshot: SnapshotToWrite,
): Promise<{ path: string; bytes: number }> {
  const { payloads, count } = packEntries(snapshot.entries)
  const framed = frameRecords(RecordKind.ENTRIES, payloads)
  const buffers = [
    frameRecord(
      RecordKind.HEADER,
      snapshotHeader(snapshot.epoch, snapshot.revision, count, snapshot.lastChecksum),
    ),
    ...framed.buffers,
    frameRecord(RecordKind.END),
  ]
  const bytes = buffers[0]!.length + framed.bytes + buffers.at(-1)!.length
  const path = join(dir, snapshotName(snapshot.revision))
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const handle = await open(temporary, 'wx', 0o600)
    try {
      // writev may write less than asked (a full disk after a partial write): that is a failure too.
      const { bytesWritten } = await handle.writev(buffers)
      if (bytesWritten !== bytes) throw new Error(`wrote ${bytesWritten} of ${bytes} bytes`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, path)
    await fsyncDir(dir)
  } catch (error) {
    await rm(temporary, { force: true })
    throw new ZStateError(ErrorCode.STORAGE, `cannot write snapshot ${path}: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return { path, bytes }
}

// ENTRIES payloads, each a MessagePack array of [key, keyRevision, value, lease?] entries with the
// values' bytes spliced in as they are (never decoded and encoded again).
function packEntries(entries: Iterable<EntryToWrite>): { payloads: Buffer[]; count: number } {
  const payloads: Buffer[] = []
  const triple = arrayHeader(3)
  const quadruple = arrayHeader(4)
  let parts: Uint8Array[] = []
  let size = 0
  let inRecord = 0
  let count = 0
  const seal = (): void => {
    const header = arrayHeader(inRecord)
    payloads.push(Buffer.concat([header, ...parts], header.length + size))
    parts = []
    size = 0
    inRecord = 0
  }
  for (const [key, keyRevision, value, lease] of entries) {
    const head = encode([key, keyRevision])
    // [key, keyRevision] encoded as a pair, its array header swapped for the entry's.
    parts.push(lease === undefined ? triple : quadruple, head.subarray(1), value)
    size += head.length + value.length
    if (lease !== undefined) {
      const encoded = encode(lease)
      parts.push(encoded)
      size += encoded.length
    }
    inRecord++
    count++
    if (size >= ENTRIES_BYTES) seal()
  }
  if (inRecord > 0) seal()
  return { payloads, count }
}
