// A full disk under a data dir (docs/durability.md "When the disk fails"), made for real: a small
// tmpfs mounted for the test (root only). The write is refused with ERR_STORAGE and nothing of it is
// seen, reads go on, writes work again once space returns, and a restart finds what was acknowledged.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { connect, startServer, ErrorCode, isZStateError } from '../lib/index.ts'
import { Op, Status } from '../lib/protocol/ops.ts'
import { rawSession, withFreshTurn } from './raw-session.ts'
import { clientFor, serverFor } from './support.ts'

// A tmpfs of `size` (read-only with `ro`) at a fresh mount point, or why there cannot be one here.
function mountTmpfs(size: string, ro = false): { path: string; unmount: () => void } | string {
  const path = mkdtempSync(join(tmpdir(), 'zstate-disk-'))
  try {
    const options = `size=${size}${ro ? ',ro' : ''}`
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { stdio: 'pipe' })
  } catch (error) {
    rmSync(path, { recursive: true, force: true })
    return `mount -t tmpfs failed (${(error as Error).message.split('\n')[0]}): needs root and mount (util-linux)`
  }
  return {
    path,
    unmount() {
      // Lazily: the server's files may still be open when the test's other cleanups have not run yet.
      execFileSync('umount', ['-l', path])
      rmSync(path, { recursive: true, force: true })
    },
  }
}

// A data dir on a 1 MiB tmpfs that something else mostly fills, so the log soon finds it full;
// undefined (and the test skipped, loudly) where no tmpfs can be mounted.
function nearlyFullDataDir(t: TestContext): { dataDir: string; filler: string } | undefined {
  const disk = mountTmpfs('1m')
  if (typeof disk === 'string') {
    console.warn(`\n!!! SKIPPED durability disk-full spec: ${disk}\n`)
    t.skip(disk)
    return undefined
  }
  t.after(() => disk.unmount())
  const dataDir = join(disk.path, 'data')
  mkdirSync(dataDir)
  const filler = join(disk.path, 'filler')
  writeFileSync(filler, Buffer.alloc(900 << 10))
  return { dataDir, filler }
}

void test('durability: a full disk refuses the write with ERR_STORAGE; nothing of it is seen; writes resume with space', async (t) => {
  const disk = nearlyFullDataDir(t)
  if (disk === undefined) return
  const { dataDir, filler } = disk
  const server = await startServer({ dataDir })
  const writer = await connect(server.address)
  const reader = await connect(server.address)
  t.after(() => Promise.all([writer.close(), reader.close()]))
  const value = 'v'.repeat(2_000)
  let refused: string | undefined
  let acknowledged = 0
  for (let i = 0; i < 1_000 && refused === undefined; i++) {
    try {
      await writer.state.set(`v/${i}`, value)
      acknowledged++
    } catch (error) {
      assert.ok(isZStateError(error) && error.code === ErrorCode.STORAGE, `ERR_STORAGE, got ${String(error)}`)
      refused = `v/${i}`
    }
  }
  assert.ok(refused !== undefined, 'the disk filled up')
  assert.ok(acknowledged > 0, 'some writes fit')
  // Nothing of the refused write is seen, by the writer or anyone; everything before it is.
  await Promise.all([writer.state.sync(), reader.state.sync()])
  for (const client of [writer, reader]) {
    assert.equal(client.state.get(refused), undefined)
    assert.equal(client.state.get(`v/${acknowledged - 1}`), value)
    assert.equal(client.state.revision, acknowledged)
  }
  // Reads go on from a fresh replica too.
  const late = await connect(server.address)
  assert.equal(late.state.size, acknowledged)
  await late.close()

  rmSync(filler)
  assert.equal(await writer.state.set(refused, value), acknowledged + 1)
  await server.close()
  const restarted = await clientFor(await serverFor(t, 'ipc', { dataDir }))
  assert.equal(restarted.state.size, acknowledged + 1)
  assert.equal(restarted.state.get(refused), value)
})

void test('durability: a transaction waiting its turn when the disk fills is refused with ERR_STORAGE, not left waiting', async (t) => {
  const disk = nearlyFullDataDir(t)
  if (disk === undefined) return
  const { dataDir } = disk
  const server = await startServer({ dataDir })
  t.after(() => server.close())
  const client = await connect(server.address)
  t.after(() => client.close())
  await withFreshTurn(t, server, client, async (a, key) => {
    // a holds the key; b and c wait behind it, in that order.
    const [b, c] = [
      await rawSession(t, server.address, undefined, key),
      await rawSession(t, server.address, undefined, key),
    ]
    for (const raw of [b, c]) {
      await raw.txn(2, a.revision, 1, true)
      await raw.send([3, Op.PING])
      await raw.reply(3) // in line by now
    }
    // a's write does not fit on the disk: its turn's write to the log fails.
    await a.txn(3, a.revision, 'v'.repeat(200_000), false, 2)
    const storage = [Status.ERROR, ErrorCode.STORAGE]
    assert.deepEqual((await a.reply(3)).slice(1, 3), storage)
    // b's turn came in that turn (granted), c's never did: both are refused.
    assert.deepEqual((await b.reply(2)).slice(1, 3), storage)
    assert.deepEqual((await c.reply(2)).slice(1, 3), storage)
    assert.equal((await client.state.sync(), client.state.get(key)), 0)
  })
})

// Node's recursive mkdir says ENOENT where the reason is EROFS: the error names the real one.
void test('durability: a data dir to be made on a read-only mount is ERR_STORAGE naming EROFS', async (t) => {
  const disk = mountTmpfs('1m', true)
  if (typeof disk === 'string') {
    console.warn(`\n!!! SKIPPED durability read-only spec: ${disk}\n`)
    return t.skip(disk)
  }
  t.after(() => disk.unmount())
  for (const dataDir of [join(disk.path, 'data'), join(disk.path, 'deeper', 'data')]) {
    const refused = await startServer({ dataDir }).then(
      () => assert.fail('a server started on a read-only mount'),
      (error: unknown) => error,
    )
    assert.ok(isZStateError(refused) && refused.code === ErrorCode.STORAGE, String(refused))
    assert.match(refused.message, /EROFS/, refused.message)
  }
})
