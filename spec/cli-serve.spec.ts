import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CliProcess, assertBuilt, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'
import { until } from './process-support.ts'

before(assertBuilt)
after(killAll)

void test('cli: serve prints exactly its ipc address, logs to stderr, and exits 0 on SIGTERM', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const path = join(dir, 'state.sock')
    const { server, address } = await serve(['--address', `ipc://${path}`])
    assert.equal(address, `ipc://${path}`)
    await server.waitFor('stderr', (text) => text.includes('listening'))
    assert.equal((await zstate(['set', 'k', '1', '--address', address])).code, 0)
    const exit = await server.signal('SIGTERM')
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.deepEqual(server.lines('stdout'), [address])
    assert.doesNotMatch(server.stderr, /\n\s+at /)
  } finally {
    cleanup()
  }
})

void test('cli: serve leaves no ipc socket files behind when stopped', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const { server } = await serve(['--address', `ipc://${join(dir, 'state.sock')}`])
    assert.deepEqual(await server.signal('SIGTERM'), { code: 0, signal: null })
    assert.deepEqual(readdirSync(dir), [])
  } finally {
    cleanup()
  }
})

void test('cli: serve on tcp://127.0.0.1:* prints the bound port and exits 0 on SIGINT', async () => {
  const { server, address } = await serve(['--address', 'tcp://127.0.0.1:*'])
  const port = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(address)?.[1]
  assert.ok(port !== undefined && Number(port) > 0, `bound address, got ${address}`)
  const info = await zstate(['info', '--address', address])
  assert.equal(info.code, 0, info.stderr)
  assert.equal((JSON.parse(info.stdout) as { pid: number }).pid, server.pid)
  assert.deepEqual(await server.signal('SIGINT'), { code: 0, signal: null })
  assert.deepEqual(server.lines('stdout'), [address])
})

void test('cli: serve without --address listens on a private ipc address', async () => {
  const { server, address } = await serve([])
  assert.match(address, /^ipc:\/\/\//)
  const keys = await zstate(['keys'], { env: { ...process.env, ZSTATE_ADDRESS: address } })
  assert.deepEqual([keys.code, keys.stdout], [0, ''])
  assert.deepEqual(await server.signal('SIGTERM'), { code: 0, signal: null })
})

void test('cli: serve refuses a non-loopback tcp address without --insecure (exit 1, one line)', async () => {
  const result = await zstate(['serve', '--address', 'tcp://0.0.0.0:*'])
  assert.equal(result.code, 1)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^zstate: .*\(ERR_INVALID_ARGUMENT\)\n$/)
})

void test('cli: serve exits 1 with ERR_STORAGE naming the reason where the data dir cannot be made', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const file = join(dir, 'a-file')
    writeFileSync(file, '')
    const cases: [string, RegExp][] = [
      [file, /ENOTDIR on .*a-file \(it is a file, not a directory\)/],
      [join(file, 'data'), /ENOTDIR on .*a-file\/data/],
    ]
    // Under /proc, Node's recursive mkdir loops for ever, deaf to signals (Linux).
    if (existsSync('/proc/self'))
      cases.push(['/proc/zstate-no-such-dir/data', /ENOENT on \/proc\/zstate-no-such-dir /])
    for (const [dataDir, reason] of cases) {
      const result = await zstate([
        'serve',
        '--data-dir',
        dataDir,
        '--address',
        `ipc://${join(dir, 's.sock')}`,
      ])
      assert.equal(result.code, 1, dataDir)
      assert.match(result.stderr, /^zstate: cannot open the data dir .*\(ERR_STORAGE\)\n$/)
      assert.match(result.stderr, reason)
    }
  } finally {
    cleanup()
  }
})

void test('cli: serve prints a storage warning as one zstate line, not Node’s warning format', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const dataDir = join(dir, 'data')
    const first = await serve(['--data-dir', dataDir])
    assert.equal((await zstate(['set', 'k', '1', '--address', first.address])).code, 0)
    assert.deepEqual(await first.server.signal('SIGTERM'), { code: 0, signal: null })
    // A crash in the middle of the last record (the clean-close marker, then the commit before it),
    // which leaves the segment at the length it was made with (1 MiB).
    const log = join(
      dataDir,
      readdirSync(dataDir)
        .filter((name) => name.endsWith('.zlog'))
        .at(-1)!,
    )
    truncateSync(log, statSync(log).size - 12)
    truncateSync(log, 1 << 20)
    const second = await serve(['--data-dir', dataDir])
    await second.server.waitFor('stderr', (text) => text.includes('listening'))
    assert.deepEqual(await second.server.signal('SIGTERM'), { code: 0, signal: null })
    assert.match(
      second.server.stderr,
      /^zstate: warning: \/.*: cut a torn tail of \d+ bytes at offset \d+\n/m,
    )
    assert.doesNotMatch(second.server.stderr, /\(node:\d+\)|--trace-warnings/)
  } finally {
    cleanup()
  }
})

// From an outside audit: a gateway whose etcd does not answer waits for it at start (its deadlines,
// up to some 20 s); a Ctrl-C then went unheard until etcd was given up, and the command exited 1.
void test('cli: serve interrupted while it starts (a gateway waiting for etcd) exits 0 at once', async (t) => {
  // An "etcd" that accepts connections and never answers.
  const sockets = new Set<Socket>()
  const mute = createServer((socket) => sockets.add(socket))
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    mute.close()
  })
  const { port } = mute.address() as AddressInfo
  const server = new CliProcess([
    'serve',
    '--address',
    'tcp://127.0.0.1:*',
    '--etcd',
    `http://127.0.0.1:${port}`,
  ])
  await until(() => sockets.size > 0, 'the gateway is waiting for etcd')
  assert.deepEqual(await server.signal('SIGINT', 5000), { code: 0, signal: null })
  assert.match(server.stderr, /zstate: interrupted by SIGINT while starting, before serving anything\n/)
  assert.equal(server.stdout, '')
})

// A server restarted on its data dir keeps its epoch: a watch says where it is back, and goes on.
void test('cli: a watch through a restart of its server on the data dir says it reconnected, and goes on', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const dataDir = join(dir, 'data')
    const first = await serve(['--data-dir', dataDir, '--address', `ipc://${join(dir, 'state')}`])
    const watch = new CliProcess(['watch', '--address', first.address])
    await watch.waitFor('stderr', (text) => text.includes('zstate: watching'))
    assert.equal((await zstate(['set', 'k', '1', '--address', first.address])).code, 0)
    assert.deepEqual(await first.server.signal('SIGTERM'), { code: 0, signal: null })
    const second = await serve(['--data-dir', dataDir, '--address', first.address])
    await watch.waitFor('stderr', (text) => text.includes(`zstate: reconnected to ${first.address}\n`))
    assert.equal((await zstate(['set', 'k', '2', '--address', second.address])).code, 0)
    const changes = await watch.waitFor('stdout', (text) => text.includes('"value":2'))
    assert.deepEqual(
      changes
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { value: number }).value),
      [1, 2],
    )
    assert.equal((await watch.signal('SIGINT')).code, 0)
    assert.deepEqual(await second.server.signal('SIGTERM'), { code: 0, signal: null })
  } finally {
    cleanup()
  }
})
