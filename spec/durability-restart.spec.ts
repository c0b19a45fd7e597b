// A server restarted on its data dir (docs/durability.md): the store, the revision counter and the
// history come back; the epoch stays after a clean close; one server per dir; damage is refused
// unless repaired; a torn last record is cut with a warning.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  truncateSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect, createContext, startServer, ErrorCode, type Server } from '../lib/index.ts'
import { processStart } from '../lib/host.ts'
import { scanRecords } from '../lib/storage/records.ts'
import { failure, until } from './process-support.ts'
import { addressFor, clientFor, fixture, serverFor, tempDir } from './support.ts'

// Writes `count` sets of key `k` (0..count-1) through a client; returns the last revision.
async function fill(server: Server, count: number, key = 'k'): Promise<number> {
  const client = await connect(server.address)
  try {
    for (let i = 0; i < count; i++) await client.state.set(key, i)
    return client.state.revision
  } finally {
    await client.close()
  }
}

const logFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.zlog'))
    .sort()

for (const fsync of ['always', 'interval', 'never'] as const) {
  void test(`durability: a clean close and restart keeps store, revision, history and epoch (fsync ${fsync})`, async (t) => {
    const dataDir = join(tempDir(t), 'data')
    const first = await startServer({ dataDir, fsync })
    const revision = await fill(first, 50)
    const { epoch } = first
    await first.close()
    const second = await serverFor(t, 'ipc', { dataDir, fsync })
    assert.equal(second.epoch, epoch)
    assert.equal(second.revision, revision)
    const client = await clientFor(second)
    assert.equal(client.state.get('k'), 49)
    // The history reaches back across the restart: every value, in order.
    const seen: unknown[] = []
    for await (const change of client.state.watch({ key: 'k', fromRevision: 1 })) {
      seen.push(change.value)
      if (seen.length === 51) break
      if (seen.length === 50) void client.state.set('k', 'after')
    }
    assert.deepEqual(seen, [...Array.from({ length: 50 }, (_, i) => i), 'after'])
    assert.equal(client.state.revision, revision + 1)
  })
}

const big = 'v'.repeat(1000)

// About 1.6 MiB of commits, all in flight: 400 keys × 4 rounds of ~1 KiB values, `${mark}${round}:…`.
// Returns the last revision.
async function setRounds(server: Server, mark = ''): Promise<number> {
  const client = await connect(server.address)
  try {
    const writes: Promise<number>[] = []
    for (let round = 0; round < 4; round++)
      for (let k = 0; k < 400; k++) writes.push(client.state.set(`key:${k}`, `${mark}${round}:${big}`))
    await Promise.all(writes)
    return client.state.revision
  } finally {
    await client.close()
  }
}

void test('durability: a clean close after more than 1 MiB of log leaves a snapshot; the restart from it is exact, history included', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir, fsync: 'never', history: { revisions: 300 } })
  const revision = await setRounds(first)
  const { epoch } = first
  assert.deepEqual(
    readdirSync(dataDir).filter((name) => name.endsWith('.zsnap')),
    [],
  )
  await first.close()
  const snapshots = readdirSync(dataDir).filter((name) => name.endsWith('.zsnap'))
  assert.deepEqual(snapshots, [`snapshot-${String(revision).padStart(20, '0')}.zsnap`])

  const second = await serverFor(t, 'ipc', { dataDir, fsync: 'never', history: { revisions: 300 } })
  assert.equal(second.epoch, epoch)
  assert.equal(second.revision, revision)
  const reader = await clientFor(second)
  assert.equal(reader.state.size, 400)
  for (let k = 0; k < 400; k++) assert.equal(reader.state.get(`key:${k}`), `3:${big}`)
  // The history holds the last 300 revisions, as it did before the close; older ones are compacted.
  const seen: string[] = []
  for await (const change of reader.state.watch({ fromRevision: revision - 299 })) {
    seen.push(change.key)
    if (seen.length === 300) break
  }
  assert.deepEqual(
    seen,
    Array.from({ length: 300 }, (_, i) => `key:${100 + i}`),
  )
  await assert.rejects(
    (async () => {
      for await (const change of reader.state.watch({ fromRevision: revision - 300 })) void change
    })(),
    { code: 'ERR_COMPACTED' },
  )
})

// A data dir closed cleanly after setRounds(mark), so that its close left a snapshot of its last
// revision; its log still holds the last 300 commits (the history).
async function snapshottedDir(t: TestContext, mark: string): Promise<{ dataDir: string; snapshot: string }> {
  const dataDir = join(tempDir(t), 'data')
  const server = await startServer({ dataDir, fsync: 'never', history: { revisions: 300 } })
  await setRounds(server, mark)
  await server.close()
  const [snapshot] = readdirSync(dataDir).filter((name) => name.endsWith('.zsnap'))
  assert.ok(snapshot !== undefined, 'the close left a snapshot')
  return { dataDir, snapshot }
}

void test('durability: a snapshot copied from another data dir is refused (ERR_CORRUPT), repair or not', async (t) => {
  const mine = await snapshottedDir(t, 'mine:')
  const theirs = await snapshottedDir(t, 'theirs:')
  // The same revision in both: their snapshot takes the place of mine, over my log.
  assert.equal(theirs.snapshot, mine.snapshot)
  cpSync(join(theirs.dataDir, theirs.snapshot), join(mine.dataDir, mine.snapshot))
  for (const repair of [false, true]) {
    const error = await failure(startServer({ dataDir: mine.dataDir, repair }))
    assert.equal(error.code, ErrorCode.CORRUPT)
    assert.match(
      error.message,
      new RegExp(`${mine.snapshot.replace('.', '\\.')}: the snapshot's commit of revision`),
    )
    assert.match(error.message, /different data dirs or histories/)
  }
  // Their own dir, snapshot and all, still starts as it was.
  const server = await serverFor(t, 'ipc', { dataDir: theirs.dataDir, history: { revisions: 300 } })
  const reader = await clientFor(server)
  assert.equal(reader.state.get('key:0'), `theirs:3:${big}`)
})

void test('durability: a close whose snapshot cannot be written warns with its code and loses nothing', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir, fsync: 'never' })
  const client = await connect(first.address)
  await Promise.all(Array.from({ length: 1600 }, (_, i) => client.state.set(`key:${i % 400}`, `${i}:${big}`)))
  const revision = client.state.revision
  await client.close()
  // What the close's snapshot would be renamed to is a directory that holds a file: the rename fails.
  const blocker = join(dataDir, `snapshot-${String(revision).padStart(20, '0')}.zsnap`)
  mkdirSync(blocker)
  writeFileSync(join(blocker, 'in-the-way'), '')
  const warnings: (Error & { code?: string })[] = []
  const onWarning = (warning: Error): number => warnings.push(warning)
  process.on('warning', onWarning)
  try {
    await first.close()
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.deepEqual(
    warnings.map((warning) => warning.code),
    ['ZSTATE_COMPACTION_FAILED'],
    warnings.map((warning) => warning.message).join('; '),
  )
  rmSync(blocker, { recursive: true })
  const second = await serverFor(t, 'ipc', { dataDir, fsync: 'never' })
  assert.equal(second.revision, revision)
  const reader = await clientFor(second)
  for (let k = 0; k < 400; k++) assert.equal(reader.state.get(`key:${k}`), `${1200 + k}:${big}`)
  // Closed here, while its data dir is still there: its close writes the snapshot the first could not.
  await reader.close()
  await second.close()
})

void test('durability: a second server on a data dir in use fails with ERR_LOCKED; a dead owner’s lock is taken over', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const owner = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc'), dataDir })])
  const { address } = (await owner.event(1)) as { address: string }
  const error = await failure(startServer({ dataDir }))
  assert.equal(error.code, ErrorCode.LOCKED)
  assert.match(error.message, new RegExp(String(owner.child.pid)))
  const client = await connect(address)
  await client.state.set('kept', true)
  await client.close()
  owner.child.kill('SIGKILL')
  await once(owner.child, 'exit')
  const next = await serverFor(t, 'ipc', { dataDir })
  const reader = await clientFor(next)
  assert.equal(reader.state.get('kept'), true)
})

// The pid of a process that has exited: what a crash leaves in LOCK.
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

void test('durability: a dead owner’s lock is taken over by one server only, however many start at that moment', async (t) => {
  const dir = tempDir(t)
  for (let round = 0; round < 8; round++) {
    const dataDir = join(dir, `data-${round}`)
    mkdirSync(dataDir)
    writeFileSync(join(dataDir, 'LOCK'), `${await deadPid()} 1\n`)
    const racers = [0, 1, 2].map(() => fixture(t, 'lock-racer', [dataDir]))
    await Promise.all(racers.map((racer) => racer.event(1)))
    const outcomes = await Promise.all(racers.map((racer) => racer.call<string>('start')))
    assert.deepEqual(outcomes.sort(), [ErrorCode.LOCKED, ErrorCode.LOCKED, 'started'], `round ${round}`)
    await Promise.all(racers.map((racer) => racer.stop()))
  }
})

void test('durability: a takeover in progress is respected; one its taker died in is taken over', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  mkdirSync(dataDir)
  const dead = `${await deadPid()} 1\n`
  writeFileSync(join(dataDir, 'LOCK'), dead)
  // A live process (this one) is taking the dead owner's lock over: it is not taken from it.
  writeFileSync(join(dataDir, 'LOCK.takeover'), `${process.pid} ${processStart(process.pid)}\n`)
  // (Closed if it starts after all, so that a failing spec does not leave the process running.)
  const error = await failure(startServer({ dataDir }).then((server) => server.close()))
  assert.equal(error.code, ErrorCode.LOCKED)
  assert.match(error.message, new RegExp(`is being taken over by the server of pid ${process.pid}`))
  assert.equal(readFileSync(join(dataDir, 'LOCK'), 'utf8'), dead, 'the lock untouched')
  // The taker died in the middle of it: its guard is stale, and the lock is taken over.
  writeFileSync(join(dataDir, 'LOCK.takeover'), dead)
  const server = await startServer({ dataDir })
  t.after(() => server.close())
  assert.equal(existsSync(join(dataDir, 'LOCK.takeover')), false, 'no guard left behind')
  assert.match(readFileSync(join(dataDir, 'LOCK'), 'utf8'), new RegExp(`^${process.pid} `))
})

void test('durability: a torn last record is cut with a warning; damage before it is ERR_CORRUPT unless repaired', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir })
  const revision = await fill(first, 20)
  await first.close()
  // A crash in the middle of the last record: its last 3 bytes never reached the disk. (The log
  // ends with the clean-close marker; cutting into the commit before it makes the commit the tail.)
  // A crash leaves the segment at the length it was made with (1 MiB): zeros after the torn record.
  const log = join(dataDir, logFiles(dataDir).at(-1)!)
  truncateSync(log, statSync(log).size - 12)
  truncateSync(log, 1 << 20)
  const warnings: string[] = []
  const onWarning = (warning: Error & { code?: string }): void => {
    if (warning.code === 'ZSTATE_TORN_TAIL') warnings.push(warning.message)
  }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const second = await startServer({ dataDir })
  await new Promise<void>((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
  assert.equal(second.revision, revision - 1)
  // The torn record was never synced, so never heard of: clients resume.
  assert.equal(second.epoch, first.epoch)
  assert.equal(warnings.length, 1, 'one torn-tail warning')
  assert.match(warnings[0]!, new RegExp(logFiles(dataDir).at(0)!.replace('.', '\\.')))
  await fill(second, 5)
  await second.close()

  // A flipped byte in the middle of the first segment: refused, naming the file.
  const damaged = join(dataDir, logFiles(dataDir)[0]!)
  const content = readFileSync(damaged)
  content[Math.floor(content.length / 2)]! ^= 0xff
  writeFileSync(damaged, content)
  const error = await failure(startServer({ dataDir }))
  assert.equal(error.code, ErrorCode.CORRUPT)
  assert.match(error.message, new RegExp(logFiles(dataDir)[0]!.replace('.', '\\.')))
  assert.match(error.message, /: at offset \d+, .*\(start with repair: true, or zstate serve --repair,/)
  const repaired = await serverFor(t, 'ipc', { dataDir, repair: true })
  assert.ok(repaired.revision > 0 && repaired.revision < revision, `kept a prefix: ${repaired.revision}`)
  // The commits cut were on disk, so clients may have seen them: they must not resume past them.
  assert.notEqual(repaired.epoch, first.epoch)
  const client = await clientFor(repaired)
  assert.equal(client.state.get('k'), repaired.revision - 1, 'the value of the last kept revision')
})

// A crash leaves the last segment at the length it was made with; cut shorter inside a record, or
// emptied, it was damaged after acknowledged commits reached it (an outside audit: `truncate -s`).
void test('durability: a last segment cut short after a crash is ERR_CORRUPT; repair keeps the prefix in a new epoch', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const address = addressFor(t, 'ipc')
  const crashed = fixture(t, 'server', [JSON.stringify({ address, dataDir })])
  const { epoch } = (await crashed.event(1)) as { epoch: string }
  const client = await connect(address)
  for (let i = 1; i <= 300; i++) await client.state.set(`k${i}`, i) // each acknowledged after its fsync
  await client.close()
  void crashed.call('exit').catch(() => {}) // ends without closing the server
  await crashed.exited
  const log = join(dataDir, logFiles(dataDir).at(-1)!)
  const records = scanRecords(readFileSync(log)).records
  const saved = join(tempDir(t), 'saved')
  cpSync(dataDir, saved, { recursive: true })
  for (const [size, offset] of [
    [records[200]!.offset + 5, records[200]!.offset],
    [0, 0],
  ] as const) {
    rmSync(dataDir, { recursive: true })
    cpSync(saved, dataDir, { recursive: true })
    truncateSync(log, size)
    // (Closed when it starts after all, so that the failed assertion ends the test.)
    const error = await failure(startServer({ dataDir }).then((server) => server.close()))
    assert.equal(error.code, ErrorCode.CORRUPT, error.message)
    assert.ok(error.message.startsWith(`${log}: at offset ${offset}, `), error.message)
    const repairs: string[] = []
    const onWarning = (warning: Error & { code?: string }): void => {
      if (warning.code === 'ZSTATE_REPAIRED') repairs.push(warning.message)
    }
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const repaired = await startServer({ dataDir, repair: true })
    await until(() => repairs.length === 1, 'repair warns')
    assert.equal(repaired.revision, offset === 0 ? 0 : 199)
    assert.notEqual(repaired.epoch, epoch, 'clients that saw the cut commits must not resume past them')
    await repaired.close()
    process.off('warning', onWarning)
  }
})

void test('durability: a context’s own server keeps its state in createContext({ server: { dataDir } })', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await createContext({ server: { dataDir } })
  await first.state.set('jobs/1', { done: true })
  await first.close()
  const second = await createContext({ server: { dataDir } })
  t.after(() => second.close())
  assert.deepEqual(second.state.get('jobs/1'), { done: true })
})

void test('durability: a client that rejoins a server restored from an older backup rebuilds its replica (reset)', async (t) => {
  const dir = tempDir(t)
  const dataDir = join(dir, 'data')
  const backup = join(dir, 'backup')
  const address = `ipc://${join(dir, 'state')}`
  let server = await startServer({ address, dataDir })
  const client = await connect(address, { name: 'stays connected' })
  const events: string[] = []
  void (async () => {
    for await (const event of client.status()) events.push(event.type)
  })()
  try {
    for (let i = 1; i <= 50; i++) await client.state.set('k', i)
    // While it runs, as docs/durability.md allows: its snapshots and segments (not its LOCK).
    cpSync(dataDir, backup, { recursive: true, filter: (path) => !path.endsWith('LOCK') })
    for (let i = 51; i <= 100; i++) await client.state.set('k', i)
    await server.close()
    server = await startServer({ address, dataDir: backup })
    await client.state.set('after', 'restore')
    const fresh = await connect(address)
    try {
      await fresh.state.sync()
      await client.state.sync()
      assert.ok(events.includes('reset'), `status events: ${events.join(', ')}`)
      assert.equal(client.state.revision, fresh.state.revision)
      assert.deepEqual(client.state.snapshot(), fresh.state.snapshot())
      assert.equal(client.state.get('k'), 50)
    } finally {
      await fresh.close()
    }
  } finally {
    await client.close()
    await server.close()
  }
})

void test('durability: a start refused for its address leaves the data dir untouched and unlocked', async (t) => {
  const dir = tempDir(t)
  const dataDir = join(dir, 'data')
  for (const address of ['tcp://0.0.0.0:*', 'no-scheme', `ipc://${join(dir, 'x'.repeat(120))}`]) {
    const error = await failure(startServer({ address, dataDir }))
    assert.equal(error.code, ErrorCode.INVALID_ARGUMENT, address)
  }
  assert.deepEqual(existsSync(dataDir) ? readdirSync(dataDir) : [], [], 'nothing written, no LOCK')
  const server = await startServer({ address: addressFor(t, 'ipc'), dataDir })
  await server.close()
})

void test('durability: a data dir the file system refuses is ERR_STORAGE naming the path, not Node’s error', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'a-file')
  writeFileSync(file, 'not a dir')
  const lockDir = join(dir, 'lock-is-a-dir')
  mkdirSync(join(lockDir, 'LOCK'), { recursive: true })
  const segmentDir = join(dir, 'segment-is-a-dir')
  mkdirSync(join(segmentDir, 'log-00000000000000000001.zlog'), { recursive: true })
  for (const [dataDir, path] of [
    [file, `ENOTDIR on ${file} (it is a file, not a directory)`],
    [join(file, 'sub'), join(file, 'sub')],
    [lockDir, join(lockDir, 'LOCK')],
    [segmentDir, join(segmentDir, 'log-00000000000000000001.zlog')],
  ] as const) {
    const error = await failure(startServer({ address: addressFor(t, 'ipc'), dataDir }))
    assert.equal(error.code, ErrorCode.STORAGE, `${dataDir}: ${error.message}`)
    assert.ok(error.message.includes(path), `${error.message} names ${path}`)
  }
  assert.deepEqual(readdirSync(segmentDir), ['log-00000000000000000001.zlog'], 'no LOCK left behind')
})

// A clean close while writes keep coming: what its log no longer takes is refused as by a server gone
// away (ERR_DISCONNECTED, not ERR_STORAGE, which says the disk failed), and the writer sends it again
// to the server restarted on the data dir: every write is applied, once.
void test('durability: writes refused by a closing server go to the one restarted on its data dir', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const address = addressFor(t, 'ipc')
  const options = JSON.stringify({ address, dataDir, fsync: 'always' })
  const first = fixture(t, 'server', [options])
  await first.event(1)
  const client = await connect(address)
  t.after(() => client.close())
  const outcomes: PromiseSettledResult<number>[] = []
  let writing = true
  const writer = (async () => {
    for (let round = 0; writing; round++) {
      const sets = Array.from({ length: 100 }, (_, i) => client.state.set(`k${round * 100 + i}`, round))
      outcomes.push(...(await Promise.allSettled(sets)))
    }
  })()
  await client.state.whenAvailable('k1000', { timeout: 60_000 })
  await first.call('close')
  const second = fixture(t, 'server', [options])
  await second.event(1)
  writing = false
  await writer
  const codes = new Set(
    outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code?: string }).code] : [])),
  )
  assert.deepEqual(
    [...codes].filter((code) => code !== 'ERR_DISCONNECTED'),
    [],
    'refused as by a server gone away',
  )
  await client.state.sync()
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') assert.ok(client.state.has(`k${i}`), `k${i} resolved and is there`)
  })
})
