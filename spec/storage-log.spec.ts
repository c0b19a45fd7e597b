import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { ErrorCode } from '../lib/errors.ts'
import { Store } from '../lib/server/store.ts'
import { readHeader, segmentName } from '../lib/storage/layout.ts'
import { LogWriter } from '../lib/storage/log-writer.ts'
import { RecordKind, commitChecksum, frameRecords, scanRecords } from '../lib/storage/records.ts'
import { recover } from '../lib/storage/recovery.ts'
import {
  openLog,
  recordsOf,
  revisionsOf,
  segmentPaths,
  setCommits,
  tempDir,
  warnings,
} from './storage-support.ts'

test('storage: records frame and scan back; the checksum covers the kind', () => {
  const payloads = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7)]
  const { buffers, bytes } = frameRecords(RecordKind.COMMIT, payloads)
  const file = Buffer.concat(buffers)
  assert.equal(file.length, bytes)
  const scan = scanRecords(file)
  assert.equal(scan.fault, undefined)
  assert.equal(scan.end, file.length)
  assert.deepEqual(
    scan.records.map((r) => [r.kind, r.offset, r.payload.length]),
    [
      [RecordKind.COMMIT, 0, 3],
      [RecordKind.COMMIT, 12, 0],
      [RecordKind.COMMIT, 21, 70_000],
    ],
  )
  assert.ok(scan.records[2]!.payload.equals(payloads[2]!))
  file[12 + 8] = RecordKind.CLEAN // the middle record's kind byte
  assert.deepEqual(scanRecords(file).fault, { kind: 'damage', offset: 12, resume: 21 })
})

test('storage: append and recover round trip across segment rolls and runs', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const appended: Buffer[] = []
  const { writer } = await openLog(dir, { segmentBytes: 300 })
  for (let turn = 0; turn < 40; turn++) {
    const commits = setCommits(store, 1 + (turn % 3), (i) => ({ i, text: 'x'.repeat(i % 50) }))
    writer.append(commits)
    appended.push(...commits)
    if (turn % 7 === 0) await writer.durable()
  }
  await writer.close(true)
  const paths = segmentPaths(dir)
  assert.ok(paths.length > 5, `rolled into ${paths.length} segments`)
  // Each segment is named after, and its header names, the revision of its first commit, and the
  // checksum of the commit before it (none before the first).
  let expected = 1
  for (const path of paths) {
    const [header, ...rest] = recordsOf(path)
    assert.equal(header!.kind, RecordKind.HEADER)
    // [first revision, synced, length made with, previous checksum]: this writer's fsync is 'always'.
    const previous = expected === 1 ? [] : [commitChecksum(appended[expected - 2]!)]
    assert.deepEqual(readHeader(header!.payload, 1, 3), {
      format: 5,
      epoch: 'e1',
      numbers: [expected, 1, 300, ...previous],
    })
    assert.equal(basename(path), segmentName(expected))
    expected += rest.filter((r) => r.kind === RecordKind.COMMIT).length
  }
  const recovered = await recover(dir, { repair: false })
  assert.equal(recovered.commits.length, appended.length)
  recovered.commits.forEach((commit, i) => assert.ok(commit.equals(appended[i]!), `commit ${i + 1}`))
  assert.equal(recovered.epoch, 'e1')
  assert.equal(recovered.cleanClose, true)
  assert.equal(recovered.tail.revision, store.revision)

  // A second run continues in a segment of its own.
  const next = LogWriter.open(dir, recovered.tail, { fsync: 'never', segmentBytes: 300 })
  const more = setCommits(store, 5)
  next.append(more)
  await next.close(true)
  const again = await recover(dir, { repair: false })
  assert.deepEqual(
    revisionsOf(again.commits),
    Array.from({ length: store.revision }, (_, i) => i + 1),
  )
  assert.ok(again.commits.at(-1)!.equals(more.at(-1)!))
})

// A segment is made at its full length (appends then change no size, so an fdatasync writes no
// inode) and cut to its records when it is finished; a run that dies leaves zeros, read as the end.
test('storage: a segment is made at its full length, zeros after its records; a roll and a close cut it to them', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const segmentBytes = 4096
  const { writer } = await openLog(dir, { segmentBytes })
  // Where a segment's records end: the scan reads the zeros after them as the end.
  const end = (path: string): number => scanRecords(readFileSync(path)).end
  writer.append(setCommits(store, 3))
  await writer.durable()
  const [first] = segmentPaths(dir) as [string]
  const open = readFileSync(first)
  assert.equal(open.length, segmentBytes, 'made at its full length')
  assert.ok(end(first) < segmentBytes)
  assert.ok(
    open.subarray(end(first)).every((byte) => byte === 0),
    'zeros after the records',
  )
  // Filled past its length: the next append rolls, and the finished segment is cut to its records.
  writer.append(setCommits(store, 1, () => 'x'.repeat(segmentBytes)))
  writer.append(setCommits(store, 1))
  const [, second] = segmentPaths(dir) as [string, string]
  assert.equal(statSync(first).size, end(first), 'the rolled segment holds only its records')
  assert.equal(statSync(second).size, segmentBytes)
  // A run that dies leaves the zeros: read as the end, cut without a warning, nothing lost.
  const copy = join(tempDir(t), 'copy')
  cpSync(dir, copy, { recursive: true })
  const seen = warnings(t)
  const crashed = await recover(copy, { repair: false })
  assert.deepEqual(revisionsOf(crashed.commits), [1, 2, 3, 4, 5])
  assert.equal(crashed.cleanClose, false)
  const [, copied] = segmentPaths(copy) as [string, string]
  assert.equal(statSync(copied).size, end(copied), 'the zeros are cut')
  await seen.settled()
  assert.deepEqual(seen.list, [])
  // A new epoch finishes a segment before it is full: cut to its records too.
  writer.newEpoch('e2')
  assert.equal(statSync(second).size, end(second), 'a segment finished early holds only its records')
  const [, , third] = segmentPaths(dir) as [string, string, string]
  await writer.close(true)
  assert.equal(statSync(third).size, end(third), 'a closed segment holds only its records')
  assert.equal(recordsOf(third).at(-1)!.kind, RecordKind.CLEAN)
})

test('storage: CLEAN ends the log only when the last run closed it cleanly', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const first = await openLog(dir)
  first.writer.append(setCommits(store, 2))
  await first.writer.close(true)
  const clean = await recover(dir, { repair: false })
  assert.equal(clean.cleanClose, true)
  assert.equal(recordsOf(segmentPaths(dir).at(-1)!).at(-1)!.kind, RecordKind.CLEAN)

  // A run that starts and stops without closing: its segment (durable before any commit) ends the
  // log, not the earlier run's CLEAN.
  const idle = LogWriter.open(dir, clean.tail, { fsync: 'always' })
  await idle.close(false)
  assert.equal((await recover(dir, { repair: false })).cleanClose, false)

  const busy = LogWriter.open(dir, (await recover(dir, { repair: false })).tail, { fsync: 'always' })
  busy.append(setCommits(store, 1))
  await busy.close(false)
  const crashed = await recover(dir, { repair: false })
  assert.equal(crashed.cleanClose, false)
  assert.deepEqual(revisionsOf(crashed.commits), [1, 2, 3])

  const closing = LogWriter.open(dir, crashed.tail, { fsync: 'always' })
  await closing.close(true)
  assert.equal((await recover(dir, { repair: false })).cleanClose, true)
})

test('storage: newEpoch starts a segment whose header names it; an empty segment is replaced', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const { writer } = await openLog(dir)
  writer.newEpoch('e2') // nothing appended under e1: its segment is replaced, not kept
  assert.deepEqual(
    segmentPaths(dir).map((p) => basename(p)),
    [segmentName(1)],
  )
  const underE2 = setCommits(store, 2)
  writer.append(underE2)
  writer.newEpoch('e3')
  writer.append(setCommits(store, 1))
  await writer.close(true)
  const epochs = segmentPaths(dir).map((path) => readHeader(recordsOf(path)[0]!.payload, 1, 3))
  assert.deepEqual(epochs, [
    { format: 5, epoch: 'e2', numbers: [1, 1, 1 << 20] },
    { format: 5, epoch: 'e3', numbers: [3, 1, 1 << 20, commitChecksum(underE2[1]!)] },
  ])
  const recovered = await recover(dir, { repair: false })
  assert.equal(recovered.epoch, 'e3')
  assert.deepEqual(revisionsOf(recovered.commits), [1, 2, 3])
})

test('storage: durable() covers what was appended before it; waiters during an fsync share the next', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const { writer } = await openLog(dir)
  t.after(() => writer.close(true))
  await writer.durable() // nothing appended: already durable
  writer.append(setCommits(store, 1))
  const first = writer.durable()
  writer.append(setCommits(store, 2))
  const second = writer.durable()
  const third = writer.durable()
  assert.equal(second, third, 'one fsync after the one in flight serves both')
  assert.notEqual(first, second)
  await first
  await second
  assert.equal(writer.syncedRevision(), 3)
  assert.equal(writer.revision, 3)
})

test('storage: the interval policy fsyncs within a second of an append', async (t) => {
  const dir = tempDir(t)
  const { writer } = await openLog(dir, { fsync: 'interval' })
  t.after(() => writer.close(true))
  writer.append(setCommits(new Store(), 3))
  assert.equal(writer.syncedRevision(), 0)
  // Waits on the condition (bounded by the test's timeout), not on a fixed time.
  while (writer.syncedRevision() < 3) await delay(20)
  assert.equal(writer.syncedRevision(), 3)
})

test('storage: append checks that the commits follow the log; a closed log refuses', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const { writer } = await openLog(dir)
  setCommits(store, 1)
  assert.throws(() => writer.append(setCommits(store, 1)), /must be revision 1/)
  await writer.close(true)
  await writer.close(true)
  assert.throws(() => writer.append(setCommits(new Store(), 1)), { code: ErrorCode.CLOSED })
  await assert.rejects(writer.durable(), { code: ErrorCode.CLOSED })
})

// A dir on a tmpfs of `size` bytes, unmounted and removed when the test ends; undefined when this
// process may not mount one (not root).
function tinyDisk(t: TestContext, size: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'zstate-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(dir, { recursive: true })
    return undefined
  }
  t.after(() => {
    execFileSync('umount', ['--lazy', dir]) // lazy: the log's fd may still be open
    rmSync(dir, { recursive: true })
  })
  return dir
}

// A real full disk (ENOSPC from a tmpfs of 64 KiB), not a mock: the append writes part of its
// records, fails, and must leave none of them.
test('storage: an append the disk refuses leaves nothing of it, and the log goes on', async (t) => {
  const dir = tinyDisk(t, 64 << 10)
  if (dir === undefined) return t.skip('mounting a tmpfs needs root')
  const store = new Store()
  const { writer } = await openLog(dir)
  t.after(() => writer.close(true))
  writer.append(setCommits(store, 3))
  await writer.durable()
  const [path] = segmentPaths(dir)
  const before = readFileSync(path!)
  const big = new Store()
  setCommits(big, 3)
  const tooLarge = setCommits(big, 2, () => new Uint8Array(48 << 10)) // 96 KiB: past the disk's end
  assert.throws(
    () => writer.append(tooLarge),
    (error: any) => {
      assert.equal(error.code, ErrorCode.STORAGE)
      assert.equal(error.cause.code, 'ENOSPC')
      return true
    },
  )
  // Not a byte of it: the segment holds what it held, zeros after (the length it was made with).
  assert.ok(readFileSync(path!).equals(before), 'nothing of the failed append stays')
  assert.deepEqual(revisionsOf((await recover(dir, { repair: false })).commits), [1, 2, 3])
  // The space the cut freed takes the next turn.
  const next = setCommits(new Store(), 4).slice(3)
  writer.append(next)
  await writer.durable()
  const after = await recover(dir, { repair: false })
  assert.deepEqual(revisionsOf(after.commits), [1, 2, 3, 4])
  assert.ok(after.commits[3]!.equals(next[0]!))
  assert.deepEqual(segmentPaths(dir), [path], 'in the same segment')
})
