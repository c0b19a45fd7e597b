// One log segment read and checked on its own, changing nothing: its HEADER, its COMMIT records
// chaining revision by revision from the first revision its name gives, and where it goes bad.
// What to do about a bad part (cut a torn tail, refuse damage, repair) is recovery's decision.
import { commitHead, isChecksum, readDirFile, readHeader, type DirFile } from './layout.ts'
import { RecordKind, scanRecords } from './records.ts'

export interface SegmentFault {
  readonly kind: 'torn' | 'damage'
  // Where the first bad record starts.
  readonly offset: number
  readonly reason: string
  // damage: where valid records start again, if they do.
  readonly resume?: number
}

export interface SegmentRead {
  readonly file: DirFile
  readonly bytes: Buffer
  // Its HEADER's; undefined when it has no valid one.
  readonly epoch: string | undefined
  // Whether the run that wrote it fsynced every commit before publishing it; undefined when its
  // header does not say (formats 1 and 2) or it has none.
  readonly synced: boolean | undefined
  // The length the file was made with; undefined when its header does not say (formats 1 to 4) or
  // it has none.
  readonly length: number | undefined
  // The checksum of the commit before its first (the previous segment's last, or the snapshot's);
  // undefined when its header does not name one (formats 1 to 3, a log that went on from an older
  // snapshot) or it has none.
  readonly previousChecksum: number | undefined
  // Every COMMIT payload before the fault, in order (views into `bytes`).
  readonly commits: Buffer[]
  // The revision of its last good commit; its first revision − 1 when it has none.
  readonly lastRevision: number
  // Whether its last good record is CLEAN.
  readonly clean: boolean
  // Where its good records end. Without a fault, only zeros follow (a segment made at its full size).
  readonly end: number
  readonly fault: SegmentFault | undefined
}

export function readSegment(file: DirFile, bytes: Buffer = readDirFile(file.path)): SegmentRead {
  const scan = scanRecords(bytes)
  const commits: Buffer[] = []
  let epoch: string | undefined
  let synced: boolean | undefined
  let length: number | undefined
  let previousChecksum: number | undefined
  let lastRevision = file.revision - 1
  let clean = false
  let end = scan.end
  let fault: SegmentFault | undefined =
    scan.fault === undefined
      ? undefined
      : scan.fault.kind === 'torn'
        ? { kind: 'torn', offset: scan.fault.offset, reason: 'an incomplete or unreadable record at the end' }
        : {
            kind: 'damage',
            offset: scan.fault.offset,
            reason: `a bad record (length or checksum), with valid records after it from offset ${scan.fault.resume}`,
            resume: scan.fault.resume!,
          }
  if (scan.records.length === 0 && fault === undefined)
    fault = { kind: 'torn', offset: 0, reason: bytes.length === 0 ? 'an empty file' : 'only zeros' }
  for (let i = 0; i < scan.records.length; i++) {
    const record = scan.records[i]!
    let problem: string | undefined
    if (i === 0) {
      const read = header(record.kind, record.payload, file)
      if (typeof read === 'string') problem = read
      else ({ epoch, synced, length, previousChecksum } = read)
    } else if (record.kind === RecordKind.COMMIT) {
      const head = commitHead(record.payload)
      if (head === undefined) problem = 'a commit that does not start with [revision, previous]'
      else if (head.revision !== lastRevision + 1 || head.previous !== lastRevision)
        problem = `commit of revision ${head.revision} (previous ${head.previous}) where ${lastRevision + 1} was expected`
      else {
        lastRevision = head.revision
        commits.push(record.payload)
      }
    } else if (record.kind !== RecordKind.CLEAN) problem = `a record of kind ${record.kind} inside the log`
    if (problem !== undefined) {
      // A valid record that does not belong: the file was written wrong, never torn.
      end = record.offset
      fault = { kind: 'damage', offset: record.offset, reason: problem }
      break
    }
    clean = record.kind === RecordKind.CLEAN
  }
  if (fault?.kind === 'torn') fault = notTorn(fault, bytes.length, length)
  return { file, bytes, epoch, synced, length, previousChecksum, commits, lastRevision, clean, end, fault }
}

// A torn tail that no crash leaves is damage. Every version's writer renamed a segment into place only
// once its header was on disk; from format 5 it is made `length` bytes long, and cut shorter only to
// a record boundary whose records are on disk (lib/storage/log-writer.ts). So a segment without a
// header, or one shorter than it was made that ends inside a record, was cut or damaged after it was
// written. (A file cut at a record boundary cannot be told from a segment finished there.)
function notTorn(fault: SegmentFault, fileLength: number, length: number | undefined): SegmentFault {
  const { offset } = fault
  if (offset === 0)
    return {
      kind: 'damage',
      offset,
      reason: `${fault.reason}: no header, which every segment has before it is named`,
    }
  if (length === undefined || fileLength >= length) return fault
  const reason = `${fault.reason}, in a file of ${fileLength} bytes made ${length} long: cut short after it was written (not torn by a crash), and what it held past its end is gone`
  return { kind: 'damage', offset, reason }
}

type SegmentHeader = Pick<SegmentRead, 'synced' | 'length' | 'previousChecksum'> & { readonly epoch: string }

// What a segment's HEADER names (its epoch, whether its run synced, the length it was made with, the
// checksum of the commit before it), or what is wrong with it.
function header(kind: RecordKind, payload: Buffer, file: DirFile): SegmentHeader | string {
  if (kind !== RecordKind.HEADER) return 'the segment does not start with its header'
  const read = readHeader(payload, 1, 3)
  if (typeof read === 'string') return `its header: ${read}`
  // From format 5 the length comes after the flag, and is always there.
  const sized = read.format >= 5
  if (read.numbers.length < (sized ? 3 : 1) || read.numbers.length > (sized ? 4 : 3))
    return 'its header: header has the wrong shape'
  const [first, flag, ...rest] = read.numbers
  const length = sized ? rest.shift() : undefined
  const [previousChecksum] = rest
  if (first !== file.revision)
    return `the header names first revision ${first}, the file name ${file.revision}`
  if (flag !== undefined && flag > 1) return `the header has a synced flag of ${flag}`
  if (!isChecksum(previousChecksum)) return `the header names a checksum of ${previousChecksum}`
  return { epoch: read.epoch, synced: flag === undefined ? undefined : flag === 1, length, previousChecksum }
}

// The highest revision of the valid commits from `offset` on, however they chain: what a cut there
// drops (for the warning).
export function lastRevisionFrom(bytes: Buffer, offset: number): number {
  let last = 0
  let at = offset
  while (at < bytes.length) {
    const scan = scanRecords(bytes, at)
    for (const record of scan.records) {
      const head = record.kind === RecordKind.COMMIT ? commitHead(record.payload) : undefined
      if (head !== undefined && head.revision > last) last = head.revision
    }
    if (scan.fault?.resume === undefined) break
    at = scan.fault.resume
  }
  return last
}
