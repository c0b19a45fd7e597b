import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { ErrorCode } from '../lib/errors.ts'
import { processStart } from '../lib/host.ts'
import { acquireLock } from '../lib/storage/lock.ts'
import { tempDir } from './storage-support.ts'

test('storage: a live owner keeps its dir: a second lock is ERR_LOCKED naming dir and pid', async (t) => {
  const dir = join(tempDir(t), 'data')
  const lock = await acquireLock(dir)
  assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid} ${processStart(process.pid)}\n`)
  await assert.rejects(acquireLock(dir), (error: any) => {
    assert.equal(error.code, ErrorCode.LOCKED)
    assert.ok(error.message.includes(dir) && error.message.includes(`pid ${process.pid}`), error.message)
    return true
  })
  await lock.release()
  await lock.release()
  assert.ok(!existsSync(join(dir, 'LOCK')))
  const again = await acquireLock(dir)
  await again.release()
  assert.deepEqual(readdirSync(dir), [], 'no temporary file stays')
})

test('storage: the lock of a dead owner is taken over', async (t) => {
  const dir = tempDir(t)
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  writeFileSync(join(dir, 'LOCK'), `${child.pid} 12345\n`)
  const lock = await acquireLock(dir)
  assert.equal(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid} ${processStart(process.pid)}\n`)
  await lock.release()
})

test('storage: a lock naming a live pid that started at another time (a recycled pid) is taken over', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'LOCK'), `${process.pid} ${processStart(process.pid)! + 1}\n`)
  const lock = await acquireLock(dir)
  await lock.release()
  writeFileSync(join(dir, 'LOCK'), 'not a lock')
  await (await acquireLock(dir)).release()
})
