// The log compacted into a snapshot (docs/durability.md "Files"): once the log has grown 64 MiB past
// the last snapshot, a snapshot is written in the background and the segments that only hold commits
// older than both it and the history are removed; a restart from snapshot + log is exact.
import assert from 'node:assert/strict'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect, startServer } from '../lib/index.ts'
import { until } from './process-support.ts'
import { clientFor, serverFor, tempDir } from './support.ts'

const KEYS = 100
const VALUE_BYTES = 10_000
// About 90 MiB of log: past the 64 MiB that calls for a snapshot, and past the history's 64 MiB.
const WRITES = 9_000

const files = (dir: string, suffix: string): string[] =>
  readdirSync(dir).filter((name) => name.endsWith(suffix))
const bytes = (dir: string): number =>
  // A segment the server removes between the listing and its stat counts for nothing.
  readdirSync(dir).reduce(
    (sum, name) => sum + (statSync(join(dir, name), { throwIfNoEntry: false })?.size ?? 0),
    0,
  )

void test('durability: a long log is compacted into a snapshot, old segments go, and a restart is exact', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir, fsync: 'never' })
  t.after(() => first.close())
  const client = await connect(first.address)
  const value = (i: number): string => String(i).padStart(VALUE_BYTES, '.')
  for (let from = 0; from < WRITES; from += 500)
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => client.state.set(`k/${(from + j) % KEYS}`, value(from + j))),
    )
  const expected = { ...client.state.snapshot() }
  const revision = client.state.revision
  await client.close()
  // Taken in the background, at a heartbeat once the log has grown enough, and the first segment
  // removed once the history has moved past it too: no event announces either.
  const firstSegment = 'log-00000000000000000001.zlog'
  await until(
    () =>
      files(dataDir, '.zsnap').length === 1 &&
      files(dataDir, '.tmp').length === 0 &&
      !files(dataDir, '.zlog').includes(firstSegment),
    'a snapshot is written and the first segment removed',
    60_000,
  )
  const [snapshot] = files(dataDir, '.zsnap')
  const snapshotRevision = Number(/^snapshot-(\d+)\.zsnap$/.exec(snapshot!)![1])
  assert.ok(snapshotRevision > 0 && snapshotRevision <= revision, `snapshot at ${snapshotRevision}`)
  // The first segment held only commits older than the history: removed.
  assert.ok(
    !files(dataDir, '.zlog').includes('log-00000000000000000001.zlog'),
    files(dataDir, '.zlog').join(' '),
  )
  // About one snapshot (100 keys of 10 kB), the history (64 MiB) and one segment (1 MiB).
  assert.ok(bytes(dataDir) < 90 << 20, `${bytes(dataDir)} bytes on disk`)
  await first.close()

  const server = await serverFor(t, 'ipc', { dataDir })
  assert.equal(server.revision, revision)
  const reader = await clientFor(server)
  assert.deepEqual({ ...reader.state.snapshot() }, expected)
})

void test('durability: a clean close leaves a snapshot and only the segments the history needs; a restart is exact', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const history = { revisions: 50 }
  const first = await startServer({ dataDir, fsync: 'never', history })
  t.after(() => first.close())
  const client = await connect(first.address)
  // About 12 MiB of log in segments of 1 MiB.
  const value = (i: number): string => String(i).padStart(20_000, '.')
  for (let from = 0; from < 600; from += 100)
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => client.state.set(`k/${(from + j) % 50}`, value(from + j))),
    )
  const expected = { ...client.state.snapshot() }
  const revision = client.state.revision
  await client.close()
  await first.close()

  assert.deepEqual(files(dataDir, '.zsnap'), [`snapshot-${String(revision).padStart(20, '0')}.zsnap`])
  // Segments named by their first revision: the first one kept still holds the history's first
  // revision, the one after it (if any) starts past it.
  const firsts = files(dataDir, '.zlog').map((name) => Number(/^log-(\d+)\.zlog$/.exec(name)![1]))
  const historyFirst = revision - history.revisions + 1
  assert.ok(firsts[0]! > 1 && firsts[0]! <= historyFirst, `segments from ${firsts.join(', ')}`)
  assert.ok(firsts.length === 1 || firsts[1]! > historyFirst, `segments from ${firsts.join(', ')}`)

  const server = await serverFor(t, 'ipc', { dataDir, history })
  assert.equal(server.revision, revision)
  const reader = await clientFor(server)
  assert.deepEqual({ ...reader.state.snapshot() }, expected)
  // The history came back whole from the segments kept.
  const replayed: number[] = []
  for await (const change of reader.state.watch({ fromRevision: historyFirst })) {
    replayed.push(change.revision)
    if (change.revision === revision) break
  }
  assert.deepEqual(
    replayed,
    Array.from({ length: history.revisions }, (_, i) => historyFirst + i),
  )
})

// A clean close past 1 MiB of log leaves a snapshot: the leases in it come back with their keys.
const TTL_MS = 4_000
// The server sweeps due keys about once a second (docs/durability.md), and a loaded machine is slow.
const SWEEP_MS = 1_000
const SLACK_MS = 1_000

void test('durability: leases come back from a snapshot: a ttl key keeps its expiry, a live session’s ephemeral key goes at the restart', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir, fsync: 'never' })
  t.after(() => first.close())
  const writer = await connect(first.address)
  const owner = await connect(first.address)
  t.after(() => owner.close())
  await Promise.all(
    Array.from({ length: 12 }, (_, i) => writer.state.set(`big/${i}`, String(i).repeat(100_000))),
  )
  await owner.state.set('mine', 1, { ephemeral: true })
  const ttlSent = performance.now()
  await writer.state.set('brief', 2, { ttl: TTL_MS })
  await writer.close()
  // The owner's session is still open: its key is in the snapshot, with its lease.
  await first.close()
  assert.equal(files(dataDir, '.zsnap').length, 1, 'a clean close past 1 MiB of log leaves a snapshot')

  const server = await serverFor(t, 'ipc', { dataDir })
  const reader = await clientFor(server)
  assert.ok(performance.now() - ttlSent < TTL_MS, 'the restart took less than the ttl')
  assert.equal(reader.state.get('brief'), 2, 'not yet due: still there')
  assert.equal(reader.state.has('mine'), false, 'no session outlives a restart')
  assert.equal(reader.state.get('big/11'), '11'.repeat(100_000))
  await reader.state.whenDeleted('brief', { timeout: TTL_MS + SWEEP_MS + SLACK_MS })
  assert.ok(performance.now() - ttlSent >= TTL_MS - 2, 'deleted once due, not before')
})

// Each run starts a segment of its own: short runs with a few writes each left one file per run, as
// a snapshot waited for 1 MiB of log (outside audit: 100 files after 100 runs). A segment past the
// snapshot counts as 64 KiB at least, so every 16 runs a clean close writes a snapshot and removes
// what it covers.
void test('durability: many short runs leave a bounded number of segments, and the last write', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  let most = 0
  for (let run = 0; run < 40; run++) {
    const server = await startServer({ dataDir, history: { revisions: 10 } })
    const client = await connect(server.address)
    await client.state.set('run', run)
    await client.close()
    await server.close()
    most = Math.max(most, files(dataDir, '.zlog').length)
  }
  assert.ok(most <= 17, `${most} segments`)
  const server = await startServer({ dataDir })
  t.after(() => server.close())
  const client = await connect(server.address)
  t.after(() => client.close())
  assert.deepEqual([client.state.get('run'), client.state.revision], [39, 40])
})
