import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from './support.ts'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname

test('package: closing every server, client, watcher and waiter leaves the event loop empty', async () => {
  const child = spawn(process.execPath, [join(root, 'spec/fixtures/lifecycle.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  assert.equal(code, 0)
  assert.equal(out, 'closed\n')
})

test('package: the built package imports by its name', async () => {
  const zstate = await import('zstate')
  assert.equal(typeof zstate.startServer, 'function')
  assert.equal(typeof zstate.connect, 'function')
  assert.ok(zstate.isZStateError(new zstate.ZStateError('ERR_TIMEOUT', 'x')))
})

test(
  'package: npm pack installs into an empty project, imports as zstate and runs its command',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir(t)
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root })
    const tarball = join(dir, stdout.trim().split('\n').pop()!)
    const project = join(dir, 'project')
    await run('mkdir', ['-p', project])
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    )
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project })
    writeFileSync(
      join(project, 'use.mjs'),
      `import { startServer, connect } from 'zstate'
const server = await startServer()
const client = await connect(server.address)
await client.state.set('hello', 'world')
console.log(client.state.get('hello'))
await client.close()
await server.close()
`,
    )
    assert.equal((await run(process.execPath, ['use.mjs'], { cwd: project })).stdout, 'world\n')
    const help = await run(join(project, 'node_modules/.bin/zstate'), ['--help'], { cwd: project })
    assert.match(help.stdout, /serve/)
  },
)
