// A full disk under a data dir (docs/durability.md "When the disk fails"), made for real: a small
// tmpfs mounted for the test (root only). The write is refused with ERR_STORAGE and nothing of it is
// seen, reads go on, writes work again once space returns, and a restart finds what was acknowledged.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect, startServer, ErrorCode, isZStateError } from '../lib/index.ts'
import { clientFor, serverFor } from './support.ts'

// A tmpfs of `size` at a fresh mount point, or why there cannot be one here.
function mountTmpfs(size: string): { path: string; unmount: () => void } | string {
  const path = mkdtempSync(join(tmpdir(), 'zstate-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'pipe' })
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

void test('durability: a full disk refuses the write with ERR_STORAGE; nothing of it is seen; writes resume with space', async (t) => {
  const disk = mountTmpfs('1m')
  if (typeof disk === 'string') {
    console.warn(`\n!!! SKIPPED durability disk-full spec: ${disk}\n`)
    return t.skip(disk)
  }
  t.after(() => disk.unmount())
  const dataDir = join(disk.path, 'data')
  mkdirSync(dataDir)
  // Most of the disk taken by something else, so the log soon finds it full.
  const filler = join(disk.path, 'filler')
  writeFileSync(filler, Buffer.alloc(900 << 10))
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
