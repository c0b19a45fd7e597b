import assert from 'node:assert/strict'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { test } from 'node:test'
import { ErrorCode, type ZStateError } from '../lib/errors.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { ChangeKind } from '../lib/protocol/ops.ts'
import { EncodedValue } from '../lib/server/set-frame.ts'
import { Store } from '../lib/server/store.ts'
import { buildSnapshot } from '../lib/storage/compactor.ts'
import { commitHead, segmentName, snapshotName } from '../lib/storage/layout.ts'
import { LogWriter } from '../lib/storage/log-writer.ts'
import { RecordKind, frameRecords, scanRecords } from '../lib/storage/records.ts'
import { recover } from '../lib/storage/recovery.ts'
import { replayCommit, restoreStore } from '../lib/storage/replay.ts'
import { storeEntries, writeSnapshot } from '../lib/storage/snapshot-writer.ts'
import {
  openLog,
  recordsOf,
  revisionsOf,
  segmentPaths,
  setCommits,
  tempDir,
  warnings,
} from './storage-support.ts'

// A segment made at its full length (the writer's default 1 MiB): what a crash leaves of it.
const MADE = 1 << 20

// `bytes` as the start of a segment a crash left: zeros after them up to the length it was made with.
function asCrashLeftIt(path: string, bytes: Buffer): void {
  writeFileSync(path, Buffer.concat([bytes, Buffer.alloc(Math.max(0, MADE - bytes.length))]))
}

// A dir whose log holds `count` commits (one per turn), closed without CLEAN: the last record is a commit.
async function logOf(dir: string, count: number, segmentBytes?: number): Promise<Buffer[]> {
  const { writer } = await openLog(dir, segmentBytes === undefined ? {} : { segmentBytes })
  const commits = setCommits(new Store(), count)
  for (const commit of commits) writer.append([commit])
  await writer.close(false)
  return commits
}

test('storage: a new dir is made 0700 and recovers as empty', async (t) => {
  const dir = join(tempDir(t), 'data', 'dir')
  const recovered = await recover(dir, { repair: false })
  assert.equal(statSync(dir).mode & 0o777, 0o700)
  assert.deepEqual(recovered, {
    snapshot: undefined,
    commits: [],
    epoch: undefined,
    cleanClose: false,
    lastRunSynced: undefined,
    cutCommits: false,
    tail: { revision: 0, checksum: undefined, epoch: undefined, snapshotRevision: 0, bytesSinceSnapshot: 0 },
  })
})

test('storage: a torn tail cut at every byte of the last record is cut off with a warning', async (t) => {
  const dir = tempDir(t)
  const commits = await logOf(dir, 4)
  const [path] = segmentPaths(dir) as [string]
  const whole = readFileSync(path)
  const last = recordsOf(path).at(-1)!
  assert.equal(last.offset + 9 + last.payload.length, whole.length)
  const seen = warnings(t)
  for (let cut = last.offset + 1; cut < whole.length; cut++) {
    asCrashLeftIt(path, whole.subarray(0, cut))
    seen.list.length = 0
    const recovered = await recover(dir, { repair: false })
    assert.deepEqual(revisionsOf(recovered.commits), [1, 2, 3], `cut at ${cut}`)
    assert.equal(recovered.cleanClose, false)
    assert.equal(statSync(path).size, last.offset, 'really truncated')
    await seen.settled()
    assert.equal(seen.list.length, 1)
    assert.equal(seen.list[0]!.code, 'ZSTATE_TORN_TAIL')
    // Counted up to the last byte that is not zero: zeros after it read as the segment's unused
    // preallocation, whether or not the writer got to them.
    let written = cut
    while (written > last.offset && whole[written - 1] === 0) written--
    assert.match(
      seen.list[0]!.message,
      new RegExp(`${path}.* ${written - last.offset} bytes at offset ${last.offset}`),
    )
    // The cut log takes the lost commit again, in a segment of its own.
    const writer = LogWriter.open(dir, recovered.tail, { fsync: 'always' })
    writer.append([commits[3]!])
    await writer.close(true)
    const again = await recover(dir, { repair: false })
    assert.deepEqual(revisionsOf(again.commits), [1, 2, 3, 4])
    assert.equal(again.cleanClose, true)
    for (const other of segmentPaths(dir).slice(1)) rmSync(other)
  }
})

test('storage: a bad last record is a torn tail too; zeros after the last record are cut without a warning', async (t) => {
  const dir = tempDir(t)
  await logOf(dir, 3)
  const [path] = segmentPaths(dir) as [string]
  const whole = readFileSync(path)
  const last = recordsOf(path).at(-1)!
  const flipped = Buffer.from(whole)
  flipped[last.offset + 12]! ^= 0x40
  asCrashLeftIt(path, flipped)
  const seen = warnings(t)
  assert.deepEqual(revisionsOf((await recover(dir, { repair: false })).commits), [1, 2])
  await seen.settled()
  assert.deepEqual(
    seen.list.map((warning) => warning.code),
    ['ZSTATE_TORN_TAIL'],
  )
  // Zeros: what a segment is made with (and what a file grown before its data reached the disk
  // reads back as). Nothing was written there: cut, nobody warned.
  seen.list.length = 0
  writeFileSync(path, Buffer.concat([whole, Buffer.alloc(4096)]))
  assert.deepEqual(revisionsOf((await recover(dir, { repair: false })).commits), [1, 2, 3])
  assert.equal(statSync(path).size, whole.length)
  await seen.settled()
  assert.deepEqual(seen.list, [])
  // A record torn short, then the segment's unused zeros: the warning counts the bytes written.
  let cut = whole.length - 3
  while (whole[cut - 1] === 0) cut--
  writeFileSync(path, Buffer.concat([whole.subarray(0, cut), Buffer.alloc(1 << 20)]))
  assert.deepEqual(revisionsOf((await recover(dir, { repair: false })).commits), [1, 2])
  await seen.settled()
  // (The deepEqual above narrowed the list's type to never[].)
  const [warning] = seen.list as Error[]
  assert.match(warning?.message ?? '', new RegExp(` ${cut - last.offset} bytes at offset ${last.offset}$`))
})

// A crash leaves a segment at the length it was made with (or longer, where appends went past it), and
// a finished one is cut only to a record boundary: shorter than that and ending inside a record, or
// without a header, the last segment was cut after it was written (an outside audit: `truncate -s`).
test('storage: a last segment cut short inside a record, or empty, is ERR_CORRUPT; repair keeps the prefix', async (t) => {
  const dir = tempDir(t)
  const { writer } = await openLog(dir)
  writer.append(setCommits(new Store(), 200))
  await writer.durable()
  const [path] = segmentPaths(dir) as [string]
  const crashed = readFileSync(path) // as a crash leaves it: at its full length
  await writer.close(false)
  assert.equal(crashed.length, MADE)
  const records = scanRecords(crashed).records
  const cuts = [
    { at: records[100]!.offset + 5, offset: records[100]!.offset, reason: /cut short after it was written/ },
    { at: 0, offset: 0, reason: /an empty file: no header/ },
    { at: 10, offset: 0, reason: /no header/ },
  ]
  for (const { at, offset, reason } of cuts) {
    writeFileSync(path, crashed.subarray(0, at))
    await assert.rejects(recover(dir, { repair: false }), (error: ZStateError) => {
      assert.equal(error.code, ErrorCode.CORRUPT)
      assert.ok(error.message.startsWith(`${path}: at offset ${offset}, `), error.message)
      assert.match(error.message, reason)
      return true
    })
    assert.equal(statSync(path).size, at, 'nothing changed without repair')
    const seen = warnings(t)
    const repaired = await recover(dir, { repair: true })
    assert.deepEqual(
      revisionsOf(repaired.commits),
      offset === 0 ? [] : Array.from({ length: 99 }, (_, i) => i + 1),
    )
    assert.equal(repaired.cutCommits, true, 'a new epoch: clients must not resume past what was cut')
    await seen.settled()
    assert.deepEqual(
      seen.list.map((warning) => warning.code),
      ['ZSTATE_REPAIRED'],
    )
    assert.equal(existsSync(path), offset > 0, 'a segment without a header is removed')
  }
  // Cut at a record boundary, it reads as a segment finished there: nothing says otherwise.
  writeFileSync(path, crashed.subarray(0, records[50]!.offset))
  const seen = warnings(t)
  assert.equal((await recover(dir, { repair: false })).tail.revision, 49)
  await seen.settled()
  assert.deepEqual(seen.list, [])
})

test('storage: a torn last record past the length a segment was made with, or in a segment of format 4, is still a torn tail', async (t) => {
  const dir = tempDir(t)
  // One append past the segment's 4 KiB: the file grows, and a crash can tear it anywhere past them.
  const { writer } = await openLog(dir, { segmentBytes: 4096 })
  writer.append(setCommits(new Store(), 2, (i) => 'x'.repeat(i * 4000)))
  await writer.durable()
  const [path] = segmentPaths(dir) as [string]
  const crashed = readFileSync(path)
  await writer.close(false)
  const last = scanRecords(crashed).records.at(-1)!
  assert.ok(crashed.length > 4096 && last.offset < 4096)
  const seen = warnings(t)
  writeFileSync(path, crashed.subarray(0, 6000))
  assert.equal((await recover(dir, { repair: false })).tail.revision, 1)
  writeFileSync(path, crashed.subarray(0, 3000))
  await assert.rejects(recover(dir, { repair: false }), /at offset \d+, .*cut short/)
  // A segment of format 4 names no length: its torn last record is cut off, whatever the file's length.
  const old = tempDir(t)
  const commits = setCommits(new Store(), 3)
  const format4 = Buffer.concat([
    ...frameRecords(RecordKind.HEADER, [encode([4, 'e0', 1, 1])]).buffers,
    ...frameRecords(RecordKind.COMMIT, commits).buffers,
  ])
  writeFileSync(join(old, segmentName(1)), format4.subarray(0, format4.length - 3))
  assert.deepEqual(revisionsOf((await recover(old, { repair: false })).commits), [1, 2])
  await seen.settled()
  assert.deepEqual(
    seen.list.map((warning) => warning.code),
    ['ZSTATE_TORN_TAIL', 'ZSTATE_TORN_TAIL'],
  )
})

test('storage: a flipped byte in a middle record is ERR_CORRUPT naming file and offset; repair keeps the prefix', async (t) => {
  const dir = tempDir(t)
  const commits = await logOf(dir, 6)
  const [path] = segmentPaths(dir) as [string]
  const whole = readFileSync(path)
  const bad = recordsOf(path)[3]! // commit 3 (record 0 is the header)
  // A byte of its payload, of its length, of its kind: each is caught.
  for (const at of [bad.offset + 12, bad.offset, bad.offset + 8]) {
    const damaged = Buffer.from(whole)
    damaged[at]! ^= 0x01
    writeFileSync(path, damaged)
    await assert.rejects(recover(dir, { repair: false }), (error: any) => {
      assert.equal(error.code, ErrorCode.CORRUPT)
      assert.ok(error.message.includes(path), error.message)
      assert.ok(error.message.includes(`at offset ${bad.offset}`), error.message)
      return true
    })
    assert.ok(readFileSync(path).equals(damaged), 'nothing changed without repair')
  }
  const seen = warnings(t)
  const repaired = await recover(dir, { repair: true })
  assert.deepEqual(revisionsOf(repaired.commits), [1, 2])
  assert.equal(repaired.cleanClose, false)
  assert.equal(repaired.cutCommits, true)
  assert.equal(statSync(path).size, bad.offset)
  await seen.settled()
  assert.equal(seen.list.length, 1)
  assert.equal(seen.list[0]!.code, 'ZSTATE_REPAIRED')
  assert.match(seen.list[0]!.message, /4 revision\(s\) after revision 2 dropped/)
  // The log goes on from revision 3.
  const writer = LogWriter.open(dir, repaired.tail, { fsync: 'always' })
  writer.append([commits[2]!])
  await writer.close(true)
  assert.deepEqual(revisionsOf((await recover(dir, { repair: false })).commits), [1, 2, 3])
})

test('storage: a bad record at the end of a segment that is not the last is damage', async (t) => {
  const dir = tempDir(t)
  await logOf(dir, 12, 80)
  const paths = segmentPaths(dir)
  assert.ok(paths.length >= 3)
  const first = paths[0]!
  const records = recordsOf(first)
  const last = records.at(-1)!
  const bytes = readFileSync(first)
  bytes[last.offset + 12]! ^= 0x01
  writeFileSync(first, bytes)
  await assert.rejects(recover(dir, { repair: false }), (error: any) => {
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.match(error.message, new RegExp(`${first}: at offset ${last.offset}, .*not the last`))
    return true
  })
  const kept = records.length - 2 // all but the header and the bad record
  warnings(t)
  const repaired = await recover(dir, { repair: true })
  assert.equal(repaired.commits.length, kept)
  assert.deepEqual(segmentPaths(dir), [first], 'the segments after the cut are removed')
})

test('storage: segments whose revisions do not chain are ERR_CORRUPT; repair cuts at the gap', async (t) => {
  const dir = tempDir(t)
  await logOf(dir, 12, 80)
  const paths = segmentPaths(dir)
  assert.ok(paths.length >= 3)
  rmSync(paths[1]!)
  await assert.rejects(recover(dir, { repair: false }), (error: any) => {
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.match(error.message, new RegExp(`${paths[2]}: at offset 0, revisions \\d+\\.\\.\\d+ are missing`))
    return true
  })
  const seen = warnings(t)
  const repaired = await recover(dir, { repair: true })
  const firstCount = recordsOf(paths[0]!).length - 1
  assert.deepEqual(
    revisionsOf(repaired.commits),
    Array.from({ length: firstCount }, (_, i) => i + 1),
  )
  assert.equal(repaired.tail.revision, firstCount)
  assert.ok(!existsSync(paths[2]!))
  await seen.settled()
  assert.match(seen.list[0]!.message, new RegExp(`after revision ${firstCount} dropped`))
})

test('storage: damage in history a snapshot holds is ERR_CORRUPT; repair drops that history only', async (t) => {
  const dir = tempDir(t)
  const commits = await logOf(dir, 12, 80)
  const paths = segmentPaths(dir)
  const second = recordsOf(paths[1]!)
  const secondLast = commitHead(second.at(-1)!.payload)!.revision
  // A snapshot past the second segment: the first two segments are history only.
  const store = new Store('e1')
  for (const commit of commits.slice(0, secondLast + 1)) replayCommit(store, commit)
  await writeSnapshot(dir, { epoch: 'e1', revision: store.revision, entries: storeEntries(store) })
  const bytes = readFileSync(paths[0]!)
  bytes[recordsOf(paths[0]!)[2]!.offset + 12]! ^= 0x01
  writeFileSync(paths[0]!, bytes)
  await assert.rejects(recover(dir, { repair: false }), { code: ErrorCode.CORRUPT })
  const seen = warnings(t)
  const repaired = await recover(dir, { repair: true })
  assert.equal(repaired.tail.revision, 12, 'no revision lost')
  assert.equal(repaired.cutCommits, false, 'clients may resume')
  assert.deepEqual(segmentPaths(dir), paths.slice(1))
  assert.equal(revisionsOf(repaired.commits).at(-1), 12)
  await seen.settled()
  assert.match(seen.list[0]!.message, /no revision dropped/)
  assert.equal((await recover(dir, { repair: false })).tail.revision, 12)
})

test('storage: a snapshot past the log’s end (its tail lost in a crash) is continued after a gap', async (t) => {
  const dir = tempDir(t)
  const commits = await logOf(dir, 8)
  const store = new Store('e1')
  for (const commit of commits) replayCommit(store, commit)
  await writeSnapshot(dir, { epoch: 'e1', revision: 8, entries: storeEntries(store) })
  // The crash keeps the snapshot (fsynced) but not the log's last three commits (page cache only).
  const [path] = segmentPaths(dir) as [string]
  writeFileSync(path, readFileSync(path).subarray(0, recordsOf(path)[6]!.offset))
  const recovered = await recover(dir, { repair: false })
  assert.equal(recovered.snapshot?.revision, 8)
  assert.deepEqual(recovered.commits, [], 'commits 1..5 do not reach the snapshot: no history')
  assert.equal(recovered.tail.revision, 8)
  const writer = LogWriter.open(dir, recovered.tail, { fsync: 'always' })
  const next = setCommits(store, 2)
  writer.append(next)
  await writer.close(true)
  const again = await recover(dir, { repair: false })
  assert.deepEqual(revisionsOf(again.commits), [9, 10])
  const rebuilt = restoreStore(again.snapshot!)
  for (const commit of again.commits) replayCommit(rebuilt, commit)
  assert.deepEqual(rebuilt.get('k10'), 10)
  assert.equal(rebuilt.revision, 10)
})

test('storage: commits whose values are kept as bytes (SET_ENCODED) replay to the same values; a format 1 log still reads', async (t) => {
  const dir = tempDir(t)
  const store = new Store('e1')
  const long = { note: 'x'.repeat(100), list: [1, 2, 3] }
  const commits = [
    store.commit([['a', ChangeKind.SET, new EncodedValue(encode(long))]], undefined, [1, 1]).bytes,
    store.commit([['b', ChangeKind.SET, new EncodedValue(encode(5))]], undefined, [1, 2]).bytes,
  ]
  assert.equal((decode(commits[0]!) as unknown[][][])[2]![0]![1], ChangeKind.SET_ENCODED)
  assert.deepEqual(store.get('a'), long, 'the store holds the value, not its bin')
  const { writer } = await openLog(dir)
  writer.append(commits)
  await writer.close(true)
  const recovered = await recover(dir, { repair: false })
  const rebuilt = new Store('e1')
  for (const commit of recovered.commits) replayCommit(rebuilt, commit)
  assert.deepEqual(rebuilt.get('a'), long)
  assert.equal(rebuilt.get('b'), 5)
  await writeSnapshot(dir, { epoch: 'e1', revision: 2, entries: storeEntries(rebuilt) })
  assert.deepEqual(restoreStore((await recover(dir, { repair: false })).snapshot!).get('a'), long)

  // A segment as the last version wrote it: format 1 in its header, commits without SET_ENCODED.
  const old = tempDir(t)
  const plain = new Store('e0')
  const oldCommits = setCommits(plain, 3, (i) => `value ${i}`)
  const records = [
    ...frameRecords(RecordKind.HEADER, [encode([1, 'e0', 1])]).buffers,
    ...frameRecords(RecordKind.COMMIT, oldCommits).buffers,
  ]
  writeFileSync(join(old, segmentName(1)), Buffer.concat(records))
  const read = await recover(old, { repair: false })
  assert.equal(read.epoch, 'e0')
  assert.deepEqual(revisionsOf(read.commits), [1, 2, 3])
  const again = new Store('e0')
  for (const commit of read.commits) replayCommit(again, commit)
  assert.equal(again.get('k3'), 'value 3')
  // A format this version does not know is refused, naming the ones it reads.
  const future = tempDir(t)
  writeFileSync(
    join(future, segmentName(1)),
    Buffer.concat(frameRecords(RecordKind.HEADER, [encode([6, 'e0', 1, 1, 100])]).buffers),
  )
  await assert.rejects(recover(future, { repair: false }), {
    code: ErrorCode.CORRUPT,
    message: /reads 1, 2, 3, 4, 5\)/,
  })
})

// A log of `count` commits whose second segment starts at revision `split` + 1 (a new epoch there),
// each commit setting k<i> to value(i).
async function splitLog(
  dir: string,
  count: number,
  split: number,
  value?: (i: number) => unknown,
): Promise<void> {
  const { writer } = await openLog(dir)
  const store = new Store()
  writer.append(setCommits(store, split, value))
  writer.newEpoch('e2')
  writer.append(setCommits(store, count - split, value))
  await writer.close(true)
}

// Every file of a dir and its bytes: what recovery must leave alone when it refuses.
function contents(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
}

test('storage: a snapshot of another data dir or history is refused, repair or not, and nothing is changed', async (t) => {
  const [mine, theirs] = [tempDir(t), tempDir(t)]
  await splitLog(mine, 12, 8)
  await splitLog(theirs, 12, 8, (i) => `theirs ${i}`)
  // Its own snapshot of revision 8 recovers, with the log both holding commit 8 and going on after it.
  await buildSnapshot(mine, 8)
  const own = await recover(mine, { repair: false })
  assert.equal(own.tail.revision, 12)
  assert.equal(own.snapshot?.revision, 8)
  await buildSnapshot(theirs, 8)
  const name = snapshotName(8)
  const copied = (files: string[]): string => {
    const dir = tempDir(t)
    for (const file of files) cpSync(join(mine, file), join(dir, file))
    cpSync(join(theirs, name), join(dir, name))
    return dir
  }
  const [first, second] = segmentPaths(mine).map((path) => basename(path)) as [string, string]
  // The other snapshot where the log holds commit 8, and where the log only goes on after it.
  for (const dir of [copied([first, second]), copied([second])]) {
    const before = contents(dir)
    for (const repair of [false, true])
      await assert.rejects(recover(dir, { repair }), (error: ZStateError) => {
        assert.equal(error.code, ErrorCode.CORRUPT)
        assert.match(
          error.message,
          new RegExp(`${name.replace('.', '\\.')}: the snapshot's commit of revision 8`),
        )
        assert.match(error.message, new RegExp(`${second.replace('.', '\\.')}|${first.replace('.', '\\.')}`))
        assert.match(error.message, /different data dirs or histories\. Remove the files that do not belong/)
        return true
      })
    assert.deepEqual(contents(dir), before, 'the dir is left as it was')
  }
})

test('storage: a segment of another data dir or history is damage where it starts; repair cuts the log there', async (t) => {
  const [mine, theirs] = [tempDir(t), tempDir(t)]
  await splitLog(mine, 12, 8)
  await splitLog(theirs, 12, 8, (i) => `theirs ${i}`)
  const [, second] = segmentPaths(mine) as [string, string]
  cpSync(join(theirs, basename(second)), second)
  await assert.rejects(recover(mine, { repair: false }), (error: ZStateError) => {
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.match(
      error.message,
      /log-0+9\.zlog: at offset 0, the segment follows a commit of revision 8 with checksum \d+, the log before it holds one with \d+: it is from another data dir or history/,
    )
    return true
  })
  const seen = warnings(t)
  const repaired = await recover(mine, { repair: true })
  assert.equal(repaired.tail.revision, 8)
  assert.equal(repaired.cutCommits, true, 'clients must not resume past revision 8')
  assert.deepEqual(
    segmentPaths(mine).map((path) => basename(path)),
    [segmentName(1)],
  )
  await seen.settled()
  assert.match(seen.list[0]!.message, /4 revision\(s\) after revision 8 dropped/)
  // What the repaired log holds is this dir's own history.
  const store = new Store()
  for (const commit of repaired.commits) replayCommit(store, commit)
  assert.equal(store.get('k8'), 8)
})
