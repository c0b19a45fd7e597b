import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { CLI, CliProcess, assertBuilt, cliEnv, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'
import type { Result } from './fixtures/cli-run.ts'

let address = ''
const scratch = tempDir()

before(async () => {
  assertBuilt()
  address = (await serve(['--address', `ipc://${join(scratch.dir, 's.sock')}`])).address
})
after(async () => {
  await killAll()
  scratch.cleanup()
})

function assertUsage(result: Result, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stdout, '')
  const [first, ...rest] = result.stderr.trimEnd().split('\n')
  assert.match(first ?? '', /^zstate: /)
  assert.match(first ?? '', message)
  assert.ok(rest.length <= 1 && rest.every((line) => /zstate/.test(line)), result.stderr)
}

function assertRuntime(result: Result, message: RegExp): void {
  assert.equal(result.code, 1, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^zstate: [^\n]+\n$/, 'exactly one line')
  assert.match(result.stderr, message)
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+/, 'no stack trace')
}

void test('cli: unknown commands and options, missing and extra arguments exit 2', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  assertUsage(await zstate(['frobnicate'], { env }), /unknown command "frobnicate"/)
  assertUsage(await zstate(['get', 'k', '--bogus'], { env }), /unknown option --bogus/)
  assertUsage(await zstate(['get'], { env }), /missing KEY/)
  assertUsage(await zstate(['set', 'k'], { env }), /missing JSON/)
  assertUsage(await zstate(['del', 'a', 'b'], { env }), /unexpected argument "b"/)
  assertUsage(await zstate(['info', '--timeout', 'soon'], { env }), /--timeout/)
  // An option's fault is told with its command's usage line, as every other usage error is.
  for (const argv of [
    ['get', 'k', '--bogus'],
    ['set', 'k', '1', '--frobnicate'],
    ['get', '-a'],
  ]) {
    const result = await zstate(argv, { env })
    assert.match(result.stderr, new RegExp(`\\nUsage: zstate ${argv[0]} KEY`), result.stderr)
  }
})

void test('cli: an invalid JSON argument exits 2 and writes nothing', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  assertUsage(await zstate(['set', 'k', '{oops'], { env }), /^zstate: the value is not valid JSON: /)
  assertUsage(await zstate(['set', 'k', '{"$bigint":"12x"}'], { env }), /\$bigint/)
  assertUsage(await zstate(['set', 'k', '{"$base64":"*"}'], { env }), /\$base64/)
  const get = await zstate(['get', 'k'], { env })
  assert.deepEqual([get.code, get.stdout, get.stderr], [1, '', ''])
})

void test('cli: no --address and no ZSTATE_ADDRESS is a usage error', async () => {
  assertUsage(await zstate(['get', 'k']), /no server address.*ZSTATE_ADDRESS/)
})

void test('cli: a bare word as the value of set says how to quote it, in a form sh takes', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  const hint = await zstate(['set', 'k', 'hello'], { env })
  assertUsage(hint, /^zstate: the value must be JSON: to store the string hello, quote it: /)
  assert.equal(
    hint.stderr.split('\n')[0],
    `zstate: the value must be JSON: to store the string hello, quote it: zstate set k '"hello"'`,
  )
  // The suggested command, run by sh, stores the string (quotes, spaces and a dashed key included).
  const bin = join(scratch.dir, 'bin')
  mkdirSync(bin, { recursive: true })
  if (!existsSync(join(bin, 'zstate'))) symlinkSync(CLI, join(bin, 'zstate'))
  const shellEnv = { ...env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }
  for (const [key, text] of [
    ['k', 'hello'],
    ['-dashed key', `it's "quoted" $HOME`],
    ['empty', ''],
  ] as const) {
    const result = await zstate(['set', '--', key, text], { env })
    assertUsage(result, /quote it: /)
    const suggestion = result.stderr.split('\n')[0]!.split('quote it: ')[1]!
    const ran = spawnSync('sh', ['-c', suggestion], { env: shellEnv, encoding: 'utf8', timeout: 30_000 })
    assert.equal(ran.status, 0, `${suggestion}: ${ran.stderr}`)
    assert.equal((await zstate(['get', '--', key], { env })).stdout, `${JSON.stringify(text)}\n`)
  }
})

void test('cli: a malformed address is a usage error naming the schemes, from --address or ZSTATE_ADDRESS', async () => {
  const forms = /expects ipc:\/\/PATH or tcp:\/\/HOST:PORT/
  assertUsage(await zstate(['get', 'k', '--address', 'http://x']), /option --address expects .*"http:\/\/x"/)
  assertUsage(await zstate(['keys', '--address', 'foo://']), forms)
  assertUsage(await zstate(['info', '--address', 'tcp://127.0.0.1']), forms)
  assertUsage(
    await zstate(['watch'], { env: cliEnv({ ZSTATE_ADDRESS: 'http://x' }) }),
    /^zstate: ZSTATE_ADDRESS expects/,
  )
  assertUsage(
    await zstate(['get', 'k', '--address', 'tcp://127.0.0.1:*']),
    /expects the port the server bound/,
  )
  assertUsage(await zstate(['serve', '--address', 'http://x']), /PORT may be \*/)
})

void test('cli: an ipc address with no server behind its socket file fails at once; serve refuses a busy one', async () => {
  const { dir, cleanup } = tempDir()
  try {
    // A minute of --timeout: only failing at once passes (zstate() gives up after 30 s).
    const slow = ['--timeout', '60000']
    const missing = `ipc://${join(dir, 'nope', 'state')}`
    assertRuntime(
      await zstate(['get', 'k', '--address', missing, ...slow]),
      new RegExp(`^zstate: no server at ${missing}: the socket file does not exist\n$`),
    )
    // The dashboard too: it serves nothing without a server.
    assertRuntime(
      await zstate(['dashboard', '--port', '0', missing, ...slow]),
      new RegExp(`^zstate: no server at ${missing}: the socket file does not exist\n$`),
    )
    writeFileSync(join(dir, 'plain'), '')
    assertRuntime(
      await zstate(['keys', '--address', `ipc://${join(dir, 'plain')}`, ...slow]),
      /is not a socket/,
    )
    // A second server would take the path over: refused while the first listens.
    const { server, address: left } = await serve(['--address', `ipc://${join(dir, 'killed')}`])
    assertRuntime(await zstate(['serve', '--address', left]), /another server listens there/)
    // A server killed without closing leaves its socket file behind.
    await server.kill()
    assert.ok(existsSync(join(dir, 'killed')))
    assertRuntime(
      await zstate(['info', '--address', left, ...slow]),
      /^zstate: no server at .*: nothing listens on its socket file/,
    )
  } finally {
    cleanup()
  }
})

void test('cli: a server that never answers fails after --timeout with one line, exit 1', async (t) => {
  // Accepts connections and says nothing: no ZeroMQ handshake ever completes.
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => silent.close())
  const { port } = silent.address() as AddressInfo
  const nowhere = `tcp://127.0.0.1:${port}`
  assertRuntime(await zstate(['get', 'k', '--address', nowhere, '--timeout', '300']), /\(ERR_TIMEOUT\)/)
})

void test('cli: values and keys the store refuses fail with their code, exit 1', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  assertRuntime(
    await zstate(['set', 'k', '{"$bigint":"99999999999999999999"}'], { env }),
    /\(ERR_UNENCODABLE\)/,
  )
  assertRuntime(await zstate(['set', 'k', '{"__proto__":1}'], { env }), /\(ERR_UNENCODABLE\)/)
  assertRuntime(await zstate(['set', 'k', '"\\ud800"'], { env }), /lone surrogate.*\(ERR_UNENCODABLE\)/)
  const deep = '['.repeat(5_000) + ']'.repeat(5_000)
  assertRuntime(
    await zstate(['set', 'k', deep], { env }),
    /nested deeper than 512 levels \(ERR_UNENCODABLE\)/,
  )
  assertRuntime(await zstate(['set', '', '1'], { env }), /\(ERR_INVALID_ARGUMENT\)/)
})

void test('cli: SIGINT or SIGTERM ends a one-shot command with ERR_ABORTED, exit 1, one line', async (t) => {
  // A listener that never speaks ZeroMQ: the command is still joining when the signal comes, and its
  // connection shows that it runs (its signal handlers are in place before it connects).
  const connections: (() => void)[] = []
  const silent = createServer(() => connections.shift()?.())
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => silent.close())
  const nowhere = `tcp://127.0.0.1:${(silent.address() as AddressInfo).port}`
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const connected = new Promise<void>((resolve) => connections.push(resolve))
    const cli = new CliProcess(['get', 'k', '--address', nowhere, '--timeout', '60000'])
    await connected
    const exit = await cli.signal(signal)
    assertRuntime(
      { ...exit, stdout: cli.stdout, stderr: cli.stderr },
      new RegExp(`interrupted by ${signal} \\(ERR_ABORTED\\)`),
    )
  }
})

void test('cli: a tcp port beyond 65535 is a usage error, not another port', async () => {
  assertUsage(await zstate(['get', 'k', '--address', 'tcp://127.0.0.1:99999']), /--address expects/)
})
