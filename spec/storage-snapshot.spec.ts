import assert from 'node:assert/strict'
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ErrorCode } from '../lib/errors.ts'
import { ChangeKind, type WireChange } from '../lib/protocol/ops.ts'
import { Store } from '../lib/server/store.ts'
import { compact, prune } from '../lib/storage/compaction.ts'
import { commitHead, listDir, snapshotHeader, snapshotName } from '../lib/storage/layout.ts'
import { FRAME_BYTES, RecordKind, frameRecord } from '../lib/storage/records.ts'
import { recover } from '../lib/storage/recovery.ts'
import { replayCommit, restoreStore } from '../lib/storage/replay.ts'
import { readSnapshot } from '../lib/storage/snapshot-reader.ts'
import { storeEntries, writeSnapshot } from '../lib/storage/snapshot-writer.ts'
import { openLog, recordsOf, revisionsOf, setCommits, tempDir, warnings } from './storage-support.ts'

// One commit as the server makes it: PATCH results computed from the store before anything applies.
function write(store: Store, changes: WireChange[], origin: unknown[] = []): Buffer {
  const patched = new Map<string, unknown>()
  for (const change of changes)
    if (change[1] === ChangeKind.PATCH) patched.set(change[0], store.patched(change[0], change[2]))
  return store.commit(changes, patched, origin).bytes
}

// Every key's decoded value, revision and encoded bytes, and the store's revision.
function contents(store: Store): unknown {
  const keys = new Map<string, unknown>()
  store.spans((key, chunk, start, end, revision) =>
    keys.set(key, { value: store.get(key), revision, bytes: Buffer.from(chunk.subarray(start, end)) }),
  )
  return { revision: store.revision, keys: new Map([...keys].sort(([a], [b]) => (a < b ? -1 : 1))) }
}

// Commits of every kind, deterministic: sets of all value types, patches, deletes, clears, several
// changes per commit, origins with and without a result.
function mixedCommits(store: Store, count: number): Buffer[] {
  let seed = 7
  const random = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) >>> 8) % n
  const values = (i: number): unknown =>
    [
      { n: i, list: [1, 2, 3], name: `v${i}` },
      `text ${i}`,
      new Uint8Array([i & 255, 1, 2]),
      2n ** 40n + BigInt(i),
      new Date(1_700_000_000_000 + i),
      null,
      'x'.repeat(20_000 + i), // larger than a shared commit buffer's quarter: a chunk of its own
      [[i], { deep: { er: i } }],
    ][i % 8]
  const commits: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const key = `k${random(20)}`
    const origin = random(3) === 0 ? [2, i + 1, { result: i }] : random(2) === 0 ? [1, i + 1] : []
    const current = store.get(key) as { n?: unknown } | undefined
    let changes: WireChange[]
    if (i % 61 === 60) changes = [[null, ChangeKind.CLEAR]]
    else if (typeof current?.n === 'number' && random(2) === 0)
      changes = [
        [
          key,
          ChangeKind.PATCH,
          [
            [0, ['n'], current.n + 1],
            [1, ['list', 3], i],
            [2, ['name']],
          ],
        ],
      ]
    else if (store.has(key) && random(4) === 0) changes = [[key, ChangeKind.DELETE]]
    else if (random(5) === 0)
      changes = [0, 1, 2].map((j) => [`m${random(10)}_${j}`, ChangeKind.SET, values(i + j)])
    else changes = [[key, ChangeKind.SET, values(i)]]
    commits.push(write(store, changes, origin))
  }
  return commits
}

function replayed(commits: readonly Buffer[], upTo = Infinity): Store {
  const store = new Store('e')
  for (const commit of commits) if (commitHead(commit)!.revision <= upTo) replayCommit(store, commit)
  return store
}

test('storage: replaying a real store’s SET/PATCH/DELETE/CLEAR commits gives an identical store', () => {
  const live = new Store()
  const commits = mixedCommits(live, 400)
  const copy = new Store()
  for (const commit of commits) {
    const again = replayCommit(copy, commit)
    assert.ok(again.bytes.equals(commit), `commit ${commitHead(commit)!.revision} encodes the same`)
  }
  assert.deepEqual(contents(copy), contents(live))
  // Deletions and key-space changes are remembered alike, so transactions are judged alike.
  const keys = [...Array.from({ length: 20 }, (_, i) => `k${i}`), 'never']
  for (const base of [0, 100, 250, 399])
    assert.deepEqual(copy.changedSince(base, keys, true), live.changedSince(base, keys, true), `base ${base}`)
  assert.throws(() => replayCommit(copy, commits[5]!), { code: ErrorCode.CORRUPT })
})

test('storage: a snapshot written and read back restores the store; what it cannot know conflicts', async (t) => {
  const dir = tempDir(t)
  const live = new Store()
  mixedCommits(live, 300)
  for (let i = 0; i < 2_000; i++) write(live, [[`bulk${i}`, ChangeKind.SET, { i, pad: 'p'.repeat(60) }]])
  const written = await writeSnapshot(dir, {
    epoch: live.epoch,
    revision: live.revision,
    entries: storeEntries(live),
  })
  assert.equal(written.path, join(dir, snapshotName(live.revision)))
  assert.deepEqual(readdirSync(dir), [snapshotName(live.revision)])
  const records = recordsOf(written.path)
  assert.ok(records.filter((r) => r.kind === RecordKind.ENTRIES).length > 2, 'entries in ~64 KiB records')
  assert.equal(records.at(-1)!.kind, RecordKind.END)
  const snapshot = readSnapshot(listDir(dir).snapshots[0]!)
  assert.equal(snapshot.entryCount, live.size)
  const restored = restoreStore(snapshot)
  assert.equal(restored.epoch, live.epoch)
  assert.deepEqual(contents(restored), contents(live))
  // Deletions before the snapshot are unknown: a transaction based before it conflicts.
  const before = live.revision - 1
  assert.deepEqual(restored.changedSince(before, ['never'], false), ['never'])
  assert.deepEqual(restored.changedSince(before, [], true), ['*'])
  assert.deepEqual(restored.changedSince(live.revision, ['never'], true), [])
})

// A restore points into the snapshot file's bytes instead of copying every value; once most of them
// are overwritten, the values left move out, so the file's buffer can go.
test('storage: a restored store keeps its values in the snapshot file until most are overwritten', async (t) => {
  const dir = tempDir(t)
  const live = new Store()
  for (let i = 0; i < 1_000; i++) write(live, [[`k${i}`, ChangeKind.SET, { i, pad: 'p'.repeat(80) }]])
  await writeSnapshot(dir, { epoch: live.epoch, revision: live.revision, entries: storeEntries(live) })
  const snapshot = readSnapshot(listDir(dir).snapshots[0]!)
  const restored = restoreStore(snapshot)
  const inFile = (): number => {
    let count = 0
    restored.spans((_key, chunk) => (count += chunk === snapshot.bytes ? 1 : 0))
    return count
  }
  assert.equal(inFile(), 1_000, 'every value restored in place')
  for (let i = 0; i < 400; i++) {
    write(restored, [[`k${i}`, ChangeKind.SET, { i, overwritten: true }]])
    write(live, [[`k${i}`, ChangeKind.SET, { i, overwritten: true }]])
  }
  assert.equal(inFile(), 600, 'the values not overwritten stay where they are')
  for (let i = 400; i < 700; i++) {
    write(restored, [[`k${i}`, ChangeKind.SET, { i, overwritten: true }]])
    write(live, [[`k${i}`, ChangeKind.SET, { i, overwritten: true }]])
  }
  assert.equal(inFile(), 0, 'mostly dead bytes: the rest moved out')
  assert.deepEqual(contents(restored), contents(live))
})

test('storage: a leftover *.tmp is ignored, and prune removes it with the older snapshots', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  const { writer } = await openLog(dir)
  writer.append(setCommits(store, 5))
  const old = await writeSnapshot(dir, {
    epoch: 'e1',
    revision: 3,
    entries: storeEntries(replayed(recoveredCommits(dir), 3)),
  })
  writer.append(setCommits(store, 5))
  await writer.close(true)
  // A snapshot that never finished (cut short), and one that was complete but never renamed.
  const newer = join(dir, `${snapshotName(8)}.0badc0de.tmp`)
  writeFileSync(newer, readFileSync(old.path).subarray(0, 20))
  copyFileSync(old.path, join(dir, `${snapshotName(9)}.12345678.tmp`))
  const recovered = await recover(dir, { repair: false })
  assert.equal(recovered.snapshot?.revision, 3)
  assert.deepEqual(revisionsOf(recovered.commits), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  await writeSnapshot(dir, {
    epoch: 'e1',
    revision: 8,
    entries: storeEntries(replayed(recovered.commits, 8)),
  })
  const { removed } = await prune(dir, { snapshotRevision: 8, keepFromRevision: 9 })
  assert.deepEqual(removed.sort(), [old.path, newer].sort())
  assert.ok(readdirSync(dir).includes(`${snapshotName(9)}.12345678.tmp`), 'a tmp past the snapshot stays')
  await assert.rejects(prune(dir, { snapshotRevision: 8, keepFromRevision: 10 }), {
    code: ErrorCode.INVALID_ARGUMENT,
  })
})

function recoveredCommits(dir: string): Buffer[] {
  return listDir(dir).segments.flatMap((file) =>
    recordsOf(file.path)
      .filter((r) => r.kind === RecordKind.COMMIT)
      .map((r) => Buffer.from(r.payload)),
  )
}

// The header's entry count sizes what a restore reads the entries into: a count the entries do not
// match is damage, whichever way it is off, and one the file cannot hold is refused before anything
// is allocated for it. Each file here has good checksums: only the count is wrong.
test('storage: a snapshot whose header miscounts its entries is ERR_CORRUPT', async (t) => {
  const dir = tempDir(t)
  const store = new Store()
  for (let i = 0; i < 50; i++) write(store, [[`k${i}`, ChangeKind.SET, { i }]])
  const written = await writeSnapshot(dir, {
    epoch: 'e1',
    revision: store.revision,
    entries: storeEntries(store),
  })
  const original = readFileSync(written.path)
  const header = recordsOf(written.path)[0]!
  const withCount = (count: number): void => {
    const record = frameRecord(RecordKind.HEADER, snapshotHeader('e1', store.revision, count, undefined))
    const rest = original.subarray(header.offset + FRAME_BYTES + header.payload.length)
    writeFileSync(written.path, Buffer.concat([record, rest]))
  }
  const refused = (count: number, why: RegExp): void => {
    withCount(count)
    assert.throws(
      () => readSnapshot(listDir(dir).snapshots[0]!),
      (error: any) => error.code === ErrorCode.CORRUPT && why.test(error.message),
      `a header saying ${count}`,
    )
  }
  refused(51, /50 entries where the header says 51/)
  refused(49, /more entries than the header says/)
  refused(2 ** 40, /a header naming 1099511627776 entries/)
  withCount(50)
  assert.deepEqual(contents(restoreStore(readSnapshot(listDir(dir).snapshots[0]!))), contents(store))
})

test('storage: a damaged snapshot is ERR_CORRUPT; repair falls back to one the log continues, or refuses', async (t) => {
  const dir = tempDir(t)
  const { writer } = await openLog(dir, { segmentBytes: 80 })
  const commits = setCommits(new Store(), 12)
  for (const commit of commits) writer.append([commit])
  await writer.close(true)
  const snapshotOf = (revision: number) =>
    writeSnapshot(dir, { epoch: 'e1', revision, entries: storeEntries(replayed(commits, revision)) })
  const damage = (path: string): number => {
    const bytes = readFileSync(path)
    const entries = recordsOf(path)[1]!
    bytes[entries.offset + 12]! ^= 0x01
    writeFileSync(path, bytes)
    return entries.offset
  }
  const oldest = await snapshotOf(2)
  const newest = await snapshotOf(4)
  const offset = damage(newest.path)
  await assert.rejects(recover(dir, { repair: false }), (error: any) => {
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.ok(error.message.includes(`${newest.path}: `) && error.message.includes(`offset ${offset}`))
    return true
  })
  const seen = warnings(t)
  const older = await recover(dir, { repair: true })
  assert.equal(older.snapshot?.revision, 2)
  assert.equal(older.tail.revision, 12)
  await seen.settled()
  assert.equal(seen.list[0]?.code, 'ZSTATE_REPAIRED')
  assert.match(seen.list[0].message, /removed it, restoring from the snapshot of revision 2/)
  // Gone from the dir: a plain start reads the older snapshot, and compactions are not stopped by it.
  assert.ok(!existsSync(newest.path), 'the damaged snapshot was removed')
  assert.equal((await recover(dir, { repair: false })).snapshot?.revision, 2)

  // No older snapshot, but the log starts at 1: the log alone will do.
  damage((await snapshotOf(4)).path)
  rmSync(oldest.path)
  const alone = await recover(dir, { repair: true })
  assert.equal(alone.snapshot, undefined)
  assert.deepEqual(
    revisionsOf(alone.commits),
    Array.from({ length: 12 }, (_, i) => i + 1),
  )

  // The log no longer reaches back to 1 and no older snapshot is left: repair refuses.
  const later = await snapshotOf(9)
  const { removed } = await prune(dir, { snapshotRevision: 9, keepFromRevision: 10 })
  assert.ok(
    removed.some((path) => path.endsWith('.zlog')),
    'the log now starts after revision 1',
  )
  damage(later.path)
  await assert.rejects(recover(dir, { repair: true }), (error: any) => {
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.ok(
      error.message.includes(later.path) && /repair cannot replace it/.test(error.message),
      error.message,
    )
    return true
  })
})

test('storage: compaction in a worker thread writes the snapshot a replay builds; the log and it restore the store', async (t) => {
  const dir = tempDir(t)
  const live = new Store()
  const { writer } = await openLog(dir, { segmentBytes: 16 << 10 })
  const commits = mixedCommits(live, 300)
  for (let i = 0; i < commits.length; i += 3) writer.append(commits.slice(i, i + 3))
  await writer.close(true)
  assert.ok(listDir(dir).segments.length > 3)

  const first = await compact(dir, 150)
  assert.equal(first.path, join(dir, snapshotName(150)))
  assert.deepEqual(
    contents(restoreStore(readSnapshot(listDir(dir).snapshots[0]!))),
    contents(replayed(commits, 150)),
  )
  // The next one starts from the snapshot before it.
  await compact(dir, 220)
  assert.deepEqual(
    contents(restoreStore(readSnapshot(listDir(dir).snapshots[1]!))),
    contents(replayed(commits, 220)),
  )

  const segments = listDir(dir).segments.length
  const { removed } = await prune(dir, { snapshotRevision: 220, keepFromRevision: 221 })
  assert.equal(removed.length, 1 + segments - listDir(dir).segments.length)
  const recovered = await recover(dir, { repair: false })
  assert.equal(recovered.snapshot?.revision, 220)
  const first221 = revisionsOf(recovered.commits)[0]!
  assert.ok(first221 <= 221 && recovered.tail.revision === 300)
  const rebuilt = restoreStore(recovered.snapshot)
  for (const commit of recovered.commits)
    if (commitHead(commit)!.revision > 220) replayCommit(rebuilt, commit)
  assert.deepEqual(contents(rebuilt), contents(live))

  await assert.rejects(compact(dir, 301), { code: ErrorCode.CORRUPT })
  const reason = new Error('stop')
  await assert.rejects(compact(dir, 300, { signal: AbortSignal.abort(reason) }), (error) => error === reason)
})
