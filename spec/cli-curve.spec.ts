import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, closeSync, existsSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { parseCommandLine } from '../lib/cli/args.ts'
import { generateKeyPair } from '../lib/index.ts'
import { isCurveKey } from '../lib/protocol/z85.ts'
import { CLI, CliProcess, assertBuilt, cliEnv, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'
import type { Result } from './fixtures/cli-run.ts'

interface KeyPair {
  publicKey: string
  secretKey: string
}

const scratch = tempDir()
// A minute of --timeout: only a refusal at once passes (zstate() gives up after 30 s).
const SLOW = ['--timeout', '60000']
let files = 0

before(assertBuilt)
after(async () => {
  await killAll()
  scratch.cleanup()
})

async function keygen(): Promise<KeyPair> {
  const result = await zstate(['keygen'])
  assert.deepEqual([result.code, result.stderr], [0, ''])
  assert.match(result.stdout, /^\{[^\n]*\}\n$/, 'one JSON line')
  return JSON.parse(result.stdout) as KeyPair
}

// A keygen file as `(umask 077; zstate keygen > NAME)` leaves it: readable by its owner only.
function keyFile(name: string, pair: KeyPair, mode = 0o600): string {
  const path = join(scratch.dir, name)
  writeFileSync(path, `${JSON.stringify(pair)}\n`, { mode })
  chmodSync(path, mode)
  return path
}

function file(name: string, text: string): string {
  const path = join(scratch.dir, name)
  writeFileSync(path, text)
  return path
}

// A curve server on tcp://127.0.0.1:* letting in the clients whose public keys are given.
async function curveServer(
  server: KeyPair,
  clients: readonly KeyPair[] | 'any',
): Promise<{ address: string; stderr: () => string }> {
  const secret = keyFile(`server-${++files}.key`, server)
  const authorized =
    clients === 'any'
      ? 'any'
      : file(`authorized-${++files}`, `# clients\n${clients.map((c) => c.publicKey).join('\n')}\n`)
  const started = await serve([
    '--address',
    'tcp://127.0.0.1:*',
    '--curve-secret-file',
    secret,
    '--authorized-keys',
    authorized,
  ])
  await started.server.waitFor('stderr', (text) => text.includes('listening'))
  return { address: started.address, stderr: () => started.server.stderr }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function assertRuntime(result: Result, message: RegExp): void {
  assert.equal(result.code, 1, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^zstate: [^\n]+\n$/, 'exactly one line')
  assert.match(result.stderr, message)
}

function assertUsage(result: Result, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr.split('\n')[0] ?? '', message)
  assert.match(result.stderr, /\nUsage: zstate /)
}

void test('cli: keygen prints one JSON line with a fresh Z85 key pair each time', async () => {
  const [a, b] = await Promise.all([keygen(), keygen()])
  for (const pair of [a, b]) {
    assert.deepEqual(Object.keys(pair), ['publicKey', 'secretKey'])
    assert.ok(isCurveKey(pair.publicKey) && isCurveKey(pair.secretKey), JSON.stringify(pair))
    assert.notEqual(pair.publicKey, pair.secretKey)
  }
  assert.equal(new Set([a.publicKey, a.secretKey, b.publicKey, b.secretKey]).size, 4)
  assertUsage(await zstate(['keygen', '--address', 'ipc:///x']), /--address does not apply to "keygen"/)
})

// A key written to a full disk would be an empty key file: the command must say so.
void test(
  'cli: keygen whose output cannot be written exits 1 with a message',
  { skip: !existsSync('/dev/full') && 'no /dev/full' },
  async () => {
    const full = openSync('/dev/full', 'w')
    try {
      const child = spawn(process.execPath, [CLI, 'keygen'], {
        stdio: ['ignore', full, 'pipe'],
        env: cliEnv(),
      })
      let stderr = ''
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const [code] = (await once(child, 'exit')) as [number]
      assert.equal(code, 1)
      assert.match(stderr, /^zstate: cannot write the output: ENOSPC/)
    } finally {
      closeSync(full)
    }
  },
)

void test('cli: a curve server and a client with an authorized key file work end to end', async () => {
  const [server, alice] = await Promise.all([keygen(), keygen()])
  const { address, stderr } = await curveServer(server, [alice])
  assert.match(stderr(), new RegExp(`curve public key ${escape(server.publicKey)}, 1 client key authorized`))
  const curve = ['--server-key', server.publicKey, '--key-file', keyFile('alice.key', alice)]
  const set = await zstate(['set', 'greeting', '"hi"', '--address', address, ...curve])
  assert.deepEqual([set.code, set.stdout, set.stderr], [0, '1\n', ''])
  // The same pair from the environment.
  const env = cliEnv({
    ZSTATE_ADDRESS: address,
    ZSTATE_SERVER_KEY: server.publicKey,
    ZSTATE_KEY_FILE: keyFile('alice.key', alice),
  })
  const get = await zstate(['get', 'greeting'], { env })
  assert.deepEqual([get.code, get.stdout, get.stderr], [0, '"hi"\n', ''])
  assert.doesNotMatch(stderr(), /warning/)
})

void test('cli: a client whose key is not authorized, or that has no keys, is refused at once (exit 1)', async () => {
  const [server, alice, mallory] = await Promise.all([keygen(), keygen(), keygen()])
  const { address } = await curveServer(server, [alice])
  const refused = await zstate([
    'get',
    'k',
    '--address',
    address,
    '--server-key',
    server.publicKey,
    '--key-file',
    keyFile('mallory.key', mallory),
    ...SLOW,
  ])
  assertRuntime(refused, /not authorized.*\(ERR_UNAUTHORIZED\)/)
  const plain = await zstate(['info', '--address', address, ...SLOW])
  assertRuntime(plain, /requires CurveZMQ: pass --server-key KEY and --key-file F.*\(ERR_UNAUTHORIZED\)/)
  const wrongServer = await zstate([
    'keys',
    '--address',
    address,
    '--server-key',
    mallory.publicKey,
    '--key-file',
    keyFile('alice.key', alice),
    ...SLOW,
  ])
  assertRuntime(wrongServer, /ERR_UNAUTHORIZED/)
})

void test('cli: --authorized-keys any lets in every key; a readable key file gets a warning, not a refusal', async () => {
  const [server, bob] = await Promise.all([keygen(), keygen()])
  const { address, stderr } = await curveServer(server, 'any')
  assert.match(stderr(), /any client key/)
  const exposed = keyFile('bob-exposed.key', bob, 0o644)
  const result = await zstate([
    'set',
    'n',
    '1',
    '-a',
    address,
    '--server-key',
    server.publicKey,
    '--key-file',
    exposed,
  ])
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stdout, '1\n')
  assert.match(
    result.stderr,
    /^zstate: warning: .*bob-exposed\.key holds a secret key .*mode 0644.*chmod 600 /,
  )
  assert.equal(result.stderr.split('\n').length, 2, 'one line')
})

void test('cli: # starts a comment in an authorized-keys file only where a key cannot: keys may hold #', async () => {
  // Z85 has '#'; a key holds one about a third of the time.
  let carol = generateKeyPair()
  while (!carol.publicKey.slice(1).includes('#')) carol = generateKeyPair()
  const server = await keygen()
  const authorized = file('authorized-hash', `  # the clients\n${carol.publicKey}   # carol\n\n`)
  const started = await serve([
    ...['--address', 'tcp://127.0.0.1:*', '--curve-secret-file', keyFile('server-hash.key', server)],
    ...['--authorized-keys', authorized],
  ])
  const curve = ['--server-key', server.publicKey, '--key-file', keyFile('carol.key', carol)]
  const result = await zstate(['set', 'k', '1', '--address', started.address, ...curve])
  assert.deepEqual([result.code, result.stdout, result.stderr], [0, '1\n', ''])
})

void test('cli: client commands take the curve pair from options or the environment; serve reads neither variable', () => {
  const key = '=lV:8tDurWhlh$NN:fWf!Pt<yKF<71d!3A3q#K7C'
  const env = { ZSTATE_ADDRESS: 'tcp://127.0.0.1:7000', ZSTATE_SERVER_KEY: key, ZSTATE_KEY_FILE: 'env.key' }
  const options = (argv: string[], environment: NodeJS.ProcessEnv = env): unknown => {
    const parsed = parseCommandLine(argv, environment)
    return parsed.kind === 'run' ? parsed.options : undefined
  }
  assert.deepEqual((options(['get', 'k']) as { curveClient: unknown }).curveClient, {
    serverKey: key,
    keyFile: 'env.key',
    keyFileSource: 'ZSTATE_KEY_FILE',
  })
  assert.deepEqual((options(['watch', '--key-file', 'own.key']) as { curveClient: unknown }).curveClient, {
    serverKey: key,
    keyFile: 'own.key',
    keyFileSource: 'option --key-file',
  })
  const unset = { ...env, ZSTATE_SERVER_KEY: '', ZSTATE_KEY_FILE: '' }
  assert.equal((options(['info'], unset) as { curveClient?: unknown }).curveClient, undefined)
  assert.deepEqual(options(['serve'], env), { timeout: 5_000, insecure: false })
  assert.deepEqual(
    (
      options(['serve', '--curve-secret-file', 's.key', '--authorized-keys', 'any']) as {
        curveServer: unknown
      }
    ).curveServer,
    { keyFile: 's.key', authorizedKeys: 'any' },
  )
  assert.deepEqual(options(['keygen'], env), { timeout: 5_000, insecure: false })
  // Z85 has '-': a key may start with it, and is still the option's value.
  const dashed = `-${'0'.repeat(39)}`
  assert.equal(
    (options(['get', 'k', '--server-key', dashed]) as { curveClient: { serverKey: string } }).curveClient
      .serverKey,
    dashed,
  )
})

void test('cli: curve options come in pairs; half of one is a usage error (exit 2)', async () => {
  const pair = await keygen()
  const key = keyFile('pair.key', pair)
  const address = ['--address', 'tcp://127.0.0.1:9']
  assertUsage(
    await zstate(['serve', '--curve-secret-file', key]),
    /--curve-secret-file and --authorized-keys go together/,
  )
  assertUsage(await zstate(['serve', '--authorized-keys', 'any']), /go together/)
  assertUsage(
    await zstate(['get', 'k', ...address, '--server-key', pair.publicKey]),
    /needs --key-file F or ZSTATE_KEY_FILE/,
  )
  assertUsage(
    await zstate(['get', 'k', ...address, '--key-file', key]),
    /needs --server-key KEY or ZSTATE_SERVER_KEY/,
  )
  assertUsage(
    await zstate(['keys', ...address], { env: cliEnv({ ZSTATE_KEY_FILE: key }) }),
    /^zstate: ZSTATE_KEY_FILE needs --server-key/,
  )
  assertUsage(
    await zstate(['info', ...address, '--key-file', key, '--server-key', 'short']),
    /option --server-key expects a public key \(40 Z85 characters\), got "short"/,
  )
  assertUsage(await zstate(['get', 'k', ...address, '--curve-secret-file', key]), /does not apply to "get"/)
})

void test('cli: a malformed key file or authorized-keys file stops the command, naming the file (exit 1)', async () => {
  const pair = await keygen()
  const good = keyFile('good.key', pair)
  const notJson = file('not-json.key', `${pair.secretKey}\n`)
  const badLine = file('authorized-bad', `# ok\n${pair.publicKey}\n\nnot-a-key\n`)
  const pasted = file('authorized-pasted', `${JSON.stringify(pair)}\n`)
  const empty = file('authorized-empty', '# nobody yet\n\n')
  const serveWith = (secret: string, authorized: string): Promise<Result> =>
    zstate([
      'serve',
      '-a',
      'tcp://127.0.0.1:*',
      '--curve-secret-file',
      secret,
      '--authorized-keys',
      authorized,
    ])
  assertRuntime(
    await serveWith(good, badLine),
    /authorized-bad:4: expected a public key .*got 9 characters \(not quoted: it may hold a secret key\)/,
  )
  // Secrets pasted where a public key goes are never quoted, however they are dressed.
  for (const [name, line] of [
    ['authorized-assigned', `secretKey=${pair.secretKey}`],
    ['authorized-pair', `${pair.secretKey} ${pair.publicKey}`],
    // Z85 has `{`: a secret key may start with it, and the line is still not a keygen JSON line.
    ['authorized-pair-brace', `{${pair.secretKey.slice(1)} ${pair.publicKey}`],
    ['authorized-pair-reversed', `${pair.publicKey} ${pair.secretKey}`],
    ['authorized-quoted', `"secretKey":"${pair.secretKey}"`],
    ['authorized-suffixed', `${pair.secretKey}X`],
  ] as const) {
    const result = await serveWith(good, file(name, `${line}\n`))
    assertRuntime(result, new RegExp(`${name}:1: expected a public key .*not quoted`))
    for (let at = 0; at + 8 <= pair.secretKey.length; at++)
      assert.ok(
        !result.stderr.includes(pair.secretKey.slice(at, at + 8)),
        `${name}: no part of the secret key`,
      )
  }
  // Whoever can change the file can let their own key in.
  const writable = file('authorized-writable', `${pair.publicKey}\n`)
  for (const mode of [0o666, 0o620]) {
    chmodSync(writable, mode)
    assertRuntime(
      await serveWith(good, writable),
      new RegExp(
        `authorized-writable: other users can change it \\(mode 0${mode.toString(8)}\\).*chmod go-w`,
      ),
    )
  }
  const leak = await serveWith(good, pasted)
  assertRuntime(leak, /authorized-pasted:1: .*keygen JSON line/)
  assert.ok(!leak.stderr.includes(pair.secretKey), 'the secret key is not quoted')
  assertRuntime(await serveWith(good, empty), /lists no public key/)
  const garbled = await serveWith(notJson, 'any')
  assertRuntime(
    garbled,
    /option --curve-secret-file .*not-json\.key: expected the JSON line of zstate keygen/,
  )
  assert.ok(!garbled.stderr.includes(pair.secretKey), 'the secret key is not quoted')
  assertRuntime(
    await serveWith(join(scratch.dir, 'missing.key'), 'any'),
    /missing\.key: cannot read it \(no such file\)/,
  )
  const getWith = (keyFile: string): Promise<Result> =>
    zstate(['get', 'k', '-a', 'tcp://127.0.0.1:9', '--server-key', pair.publicKey, '--key-file', keyFile])
  assertRuntime(await getWith(notJson), /option --key-file .*not-json\.key: expected the JSON line/)
  // Halves of two pairs: the message names the file, not options the user never typed.
  const mixed = keyFile('mixed.key', { publicKey: pair.publicKey, secretKey: (await keygen()).secretKey })
  assertRuntime(
    await serveWith(mixed, 'any'),
    /option --curve-secret-file .*mixed\.key: its publicKey is not the public key of its secretKey/,
  )
  const client = await getWith(mixed)
  assertRuntime(
    client,
    /option --key-file .*mixed\.key: its publicKey is not the public key of its secretKey/,
  )
  assert.doesNotMatch(client.stderr, /curve\./)
})

void test('cli: a watch that a restarted server no longer lets in says so once, and goes on when it does again', async () => {
  const [server, alice, bob] = [await keygen(), await keygen(), await keygen()]
  const secret = keyFile('restarted-server.key', server)
  const aliceKey = keyFile('restarted-alice.key', alice)
  const serveFor = (address: string, client: KeyPair): ReturnType<typeof serve> =>
    serve([
      '--address',
      address,
      '--curve-secret-file',
      secret,
      '--authorized-keys',
      file(`restarted-authorized-${++files}`, `${client.publicKey}\n`),
    ])
  const first = await serveFor('tcp://127.0.0.1:*', alice)
  const { address } = first
  const watch = new CliProcess([
    'watch',
    '--address',
    address,
    '--server-key',
    server.publicKey,
    '--key-file',
    aliceKey,
    '--timeout',
    '1000',
    '--resume',
  ])
  await watch.waitFor('stderr', (text) => text.includes('zstate: watching'))
  assert.equal((await first.server.signal('SIGTERM')).code, 0)
  const second = await serveFor(address, bob)
  const refusal = /\(ERR_UNAUTHORIZED\); trying again\n/
  await watch.waitFor('stderr', (text) => refusal.test(text))
  assert.equal((await second.server.signal('SIGTERM')).code, 0)
  await serveFor(address, alice)
  // A new server (a new epoch): the watch goes on from its snapshot.
  await watch.waitFor('stdout', (text) => text.includes('{"reset":true'))
  assert.equal(watch.stderr.split('\n').filter((line) => refusal.test(`${line}\n`)).length, 1, 'said once')
  assert.equal((await watch.signal('SIGINT')).code, 0)
})
