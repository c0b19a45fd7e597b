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
    fault = { kind: 'torn', offset: 0, reason: 'an empty file, its header never written' }
  for (let i = 0; i < scan.records.length; i++) {
    const record = scan.records[i]!
    let problem: string | undefined
    if (i === 0) {
      const read = header(record.kind, record.payload, file)
      if (typeof read === 'string') problem = read
      else ({ epoch, synced, previousChecksum } = read)
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
  return { file, bytes, epoch, synced, previousChecksum, commits, lastRevision, clean, end, fault }
}

// What a segment's HEADER names (its epoch, whether its run synced, the checksum of the commit before
// it), or what is wrong with it.
function header(
  kind: RecordKind,
  payload: Buffer,
  file: DirFile,
): { epoch: string; synced: boolean | undefined; previousChecksum: number | undefined } | string {
  if (kind !== RecordKind.HEADER) return 'the segment does not start with its header'
  const read = readHeader(payload, 1, 2)
  if (typeof read === 'string') return `its header: ${read}`
  const [first, flag, previousChecksum] = read.numbers
  if (first !== file.revision)
    return `the header names first revision ${first}, the file name ${file.revision}`
  if (flag !== undefined && flag > 1) return `the header has a synced flag of ${flag}`
  if (!isChecksum(previousChecksum)) return `the header names a checksum of ${previousChecksum}`
  return { epoch: read.epoch, synced: flag === undefined ? undefined : flag === 1, previousChecksum }
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
