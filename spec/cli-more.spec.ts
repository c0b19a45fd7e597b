import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../lib/index.ts'
import type { Client } from '../lib/index.ts'
import { CLI, CliProcess, assertBuilt, cliEnv, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'
import type { Result } from './fixtures/cli-run.ts'

const scratch = tempDir()
let address = ''
let env: NodeJS.ProcessEnv = {}
const nobody = `ipc://${join(scratch.dir, 'nobody.sock')}`

before(async () => {
  assertBuilt()
  address = (await serve(['--address', `ipc://${join(scratch.dir, 'more.sock')}`])).address
  env = cliEnv({ ZSTATE_ADDRESS: address })
})
after(async () => {
  await killAll()
  scratch.cleanup()
})

// Runs zstate against the spec's server and expects exit 0.
async function ok(...args: string[]): Promise<string> {
  const result = await zstate(args, { env })
  assert.equal(result.code, 0, `zstate ${args.join(' ')}: ${result.stderr}`)
  return result.stdout
}

function assertUsage(result: Result, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^zstate: [^\n]+\nUsage: zstate [^\n]+\n$/)
  assert.match(result.stderr, message)
}

function assertRuntime(result: Result, message: RegExp): void {
  assert.equal(result.code, 1, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^zstate: [^\n]+\n$/, 'exactly one line')
  assert.match(result.stderr, message)
}

// `zstate ...args` with `input` on its stdin, to completion.
function withStdin(args: readonly string[], input: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(input)
  })
}

void test('cli: incr adds BY (default 1) and prints the new value as JSON', async () => {
  assert.equal(await ok('incr', 'n:counter'), '1\n')
  assert.equal(await ok('incr', 'n:counter', '5'), '6\n')
  assert.equal(await ok('incr', 'n:counter', '-10'), '-4\n')
  assert.equal(await ok('get', 'n:counter'), '-4\n')
  await ok('set', 'n:big', '{"$bigint":"9007199254740993"}')
  assert.equal(await ok('incr', 'n:big', '2'), '{"$bigint":"9007199254740995"}\n')
})

void test('cli: incr refuses a BY that is no integer (exit 2) and a value that is no number (exit 1)', async () => {
  for (const by of ['1.5', 'x', '', '1e3', '99999999999999999999'])
    assertUsage(await zstate(['incr', 'n:bad', by], { env }), /BY must be an integer/)
  assertUsage(await zstate(['incr'], { env }), /missing KEY/)
  assertUsage(await zstate(['incr', 'k', '1', '2'], { env }), /unexpected argument "2"/)
  await ok('set', 'n:text', '"abc"')
  assertRuntime(await zstate(['incr', 'n:text'], { env }), /\(ERR_INVALID_ARGUMENT\)/)
  assert.equal((await zstate(['get', 'n:bad'], { env })).code, 1, 'nothing was written')
})

void test('cli: set KEY - reads the JSON value from stdin; set KEY JSON still works', async () => {
  const piped = await withStdin(['set', 'in:doc', '-'], '{"a":[1,{"$date":"2024-01-31T00:00:00.000Z"}]}\n')
  assert.equal(piped.code, 0, piped.stderr)
  assert.match(piped.stdout, /^\d+\n$/)
  assert.equal(await ok('get', 'in:doc'), '{"a":[1,{"$date":"2024-01-31T00:00:00.000Z"}]}\n')
  assert.match(await ok('set', 'in:arg', '"-"'), /^\d+\n$/)
  assert.equal(await ok('get', 'in:arg'), '"-"\n')
  const word = await withStdin(['set', 'in:word', '-'], 'hello\n')
  assert.equal(word.code, 2)
  assert.match(
    word.stderr,
    /^zstate: the value must be JSON: to store the string hello, quote it: "hello" on stdin\n/,
  )
  const broken = await withStdin(['set', 'in:word', '-'], '{oops')
  assert.equal(broken.code, 2)
  assert.match(broken.stderr, /not valid JSON/)
  const empty = await withStdin(['set', 'in:word', '-'], '')
  assert.equal(empty.code, 2)
  assert.match(empty.stderr, /to store the empty string, quote it: "" on stdin\n/)
  assert.equal((await zstate(['get', 'in:word'], { env })).code, 1, 'nothing was written')
})

void test('cli: clear deletes the keys under PREFIX in one revision, or says there is nothing to clear', async () => {
  for (const key of ['c:a', 'c:b', 'c:d:1', 'keep']) await ok('set', key, '1')
  const result = await zstate(['clear', 'c:'], { env })
  assert.equal(result.code, 0, result.stderr)
  const revision = Number(result.stdout)
  assert.ok(Number.isSafeInteger(revision) && revision > 0, result.stdout)
  assert.equal(await ok('keys', 'c:'), '')
  assert.equal(await ok('get', 'keep'), '1\n')
  const again = await zstate(['clear', 'c:'], { env })
  assert.deepEqual([again.code, again.stdout], [0, ''])
  assert.equal(again.stderr, 'zstate: nothing to clear: no key starts with "c:"\n')
  const star = await zstate(['clear', 'c*'], { env })
  assert.equal(star.code, 0)
  assert.match(
    star.stderr,
    /a key prefix, not a pattern.*to clear the keys that start with "c": zstate clear c\n/,
  )
  assertUsage(await zstate(['clear', 'a', 'b'], { env }), /unexpected argument "b"/)
})

void test('cli: clear without PREFIX empties the whole store', async () => {
  const { server, address: own } = await serve(['--address', `ipc://${join(scratch.dir, 'clear.sock')}`])
  try {
    const at = ['--address', own]
    const first = await zstate(['clear', ...at])
    assert.deepEqual(
      [first.code, first.stdout, first.stderr],
      [0, '', 'zstate: nothing to clear: the store is empty\n'],
    )
    for (const key of ['x', 'y:1']) assert.equal((await zstate(['set', key, '1', ...at])).code, 0)
    const cleared = await zstate(['clear', ...at])
    assert.deepEqual([cleared.code, cleared.stdout], [0, '3\n'])
    assert.equal((await zstate(['keys', ...at])).stdout, '')
  } finally {
    await server.signal('SIGTERM')
  }
})

void describe('cli: services and call', () => {
  let provider: Client | undefined
  before(async () => {
    provider = await connect(address, { timeout: 10_000 })
    await provider.provide('math', {
      add: (a: number, b: number) => a + b,
      twice: (n: bigint) => n * 2n,
      nothing: () => undefined,
      fail: () => {
        throw new Error('no\nway')
      },
    })
  })
  after(async () => {
    await provider?.close()
  })

  void test('cli: services lists each service with providers and methods, as JSON lines or a table', async () => {
    // JSON lines by default, as ../shared/API.md has it; --json says so explicitly.
    const listed = await ok('services')
    assert.equal(await ok('services', '--json'), listed)
    const lines = listed.split('\n').filter(Boolean)
    const math = lines.map((line) => JSON.parse(line) as { name: string }).find((s) => s.name === 'math')
    assert.deepEqual(math, { name: 'math', providers: 1, methods: ['add', 'fail', 'nothing', 'twice'] })
    const table = (await ok('services', '--table')).split('\n')
    assert.match(table[0] ?? '', /^SERVICE\s+PROVIDERS\s+METHODS$/)
    assert.ok(
      table.some((row) => /^math\s+1\s+add fail nothing twice$/.test(row)),
      table.join('\n'),
    )
    assertUsage(await zstate(['services', 'extra'], { env }), /unexpected argument/)
    assertUsage(await zstate(['services', '--once'], { env }), /--once does not apply/)
    assertUsage(
      await zstate(['services', '--json', '--table'], { env }),
      /--json and --table exclude each other/,
    )
    assertUsage(await zstate(['get', 'k', '--table'], { env }), /--table does not apply/)
  })

  void test('cli: call prints the result as one JSON line; undefined prints null', async () => {
    assert.equal(await ok('call', 'math', 'add', '1', '2'), '3\n')
    assert.equal(await ok('call', 'math', 'add', '-1', '-2'), '-3\n')
    assert.equal(await ok('call', 'math', 'twice', '{"$bigint":"21"}'), '{"$bigint":"42"}\n')
    assert.equal(await ok('call', 'math', 'nothing'), 'null\n')
  })

  void test('cli: call fails with one line for a handler error, no provider, or an unknown method', async () => {
    assertRuntime(await zstate(['call', 'math', 'fail'], { env }), /no way.*\(ERR_REMOTE\)/)
    assertRuntime(await zstate(['call', 'nobody', 'x'], { env }), /\(ERR_NO_PROVIDER\)/)
    assertRuntime(await zstate(['call', 'math', 'nope'], { env }), /\(ERR_INVALID_ARGUMENT\)/)
  })

  void test('cli: call refuses malformed JSON arguments and missing names with exit 2', async () => {
    assertUsage(await zstate(['call', 'math', 'add', '1', '{oops'], { env }), /not valid JSON/)
    assertUsage(
      await zstate(['call', 'math', 'add', 'hi', '2'], { env }),
      /to store the string hi, quote it: zstate call math add '"hi"' 2/,
    )
    assertUsage(await zstate(['call', 'math'], { env }), /missing METHOD/)
  })
})

void test('cli: sub prints {"topic","message"} lines under its prefix until SIGINT', async () => {
  const subscriber = new CliProcess(['sub', 'news.'], env)
  try {
    await subscriber.waitFor('stderr', (text) => text.includes('subscribed to topics under "news."'))
    assert.equal(await ok('pub', 'news.a', '{"n":{"$bigint":"1"}}'), '')
    await ok('pub', 'sports.b', '1')
    await ok('pub', 'news.done', '"end"')
    await subscriber.waitFor('stdout', (text) => text.includes('news.done'))
    assert.deepEqual(
      subscriber.lines('stdout').map((line) => JSON.parse(line) as unknown),
      [
        { topic: 'news.a', message: { n: { $bigint: '1' } } },
        { topic: 'news.done', message: 'end' },
      ],
    )
    assert.deepEqual(await subscriber.signal('SIGINT'), { code: 0, signal: null })
  } finally {
    await subscriber.kill()
  }
})

void test('cli: sub --once exits 0 after the first message; without PREFIX it sees every topic', async () => {
  const subscriber = new CliProcess(['sub', '--once'], env)
  try {
    await subscriber.waitFor('stderr', (text) => text.includes('subscribed to all topics'))
    await ok('pub', 'any.topic', '[1,2]')
    assert.deepEqual(await subscriber.exited, { code: 0, signal: null })
    assert.equal(subscriber.stdout, '{"topic":"any.topic","message":[1,2]}\n')
  } finally {
    await subscriber.kill()
  }
})

void test('cli: pub and sub refuse malformed arguments with exit 2', async () => {
  assertUsage(await zstate(['pub', 't', '{oops'], { env }), /not valid JSON/)
  assertUsage(await zstate(['pub', 't'], { env }), /missing JSON/)
  assertUsage(await zstate(['sub', 'a', 'b'], { env }), /unexpected argument "b"/)
  assertUsage(await zstate(['pub', 't', '1', '--once'], { env }), /--once does not apply/)
})

void test('cli: watch --resume goes on after the server is replaced; without it, watch exits 1', async () => {
  const at = `ipc://${join(scratch.dir, 'restart.sock')}`
  let { server } = await serve(['--address', at])
  const ownEnv = cliEnv({ ZSTATE_ADDRESS: at })
  const resuming = new CliProcess(['watch', 'r:', '--resume'], ownEnv)
  const plain = new CliProcess(['watch', 'r:'], ownEnv)
  try {
    await resuming.waitFor('stderr', (text) => text.includes('watching'))
    await plain.waitFor('stderr', (text) => text.includes('watching'))
    await zstate(['set', 'r:before', '1'], { env: ownEnv })
    await resuming.waitFor('stdout', (text) => text.includes('r:before'))
    assert.deepEqual(await server.signal('SIGINT'), { code: 0, signal: null })
    server = (await serve(['--address', at])).server
    await resuming.waitFor('stdout', (text) => text.includes('"reset"'))
    const exit = await plain.exited
    assert.equal(exit.code, 1)
    assert.match(plain.stderr, /\(ERR_COMPACTED\)\n$/)
    assert.equal((await zstate(['set', 'r:after', '2'], { env: ownEnv })).code, 0)
    await resuming.waitFor('stdout', (text) => text.includes('r:after'))
    assert.deepEqual(
      resuming.lines('stdout').map((line) => JSON.parse(line) as unknown),
      [
        { revision: 1, key: 'r:before', value: 1, deleted: false },
        { reset: true, revision: 0 },
        { revision: 1, key: 'r:after', value: 2, deleted: false },
      ],
    )
    assert.deepEqual(await resuming.signal('SIGTERM'), { code: 0, signal: null })
  } finally {
    await Promise.all([resuming.kill(), plain.kill(), server.kill()])
  }
})

// `zstate watch | head -1`: the reader goes, the next line fails with EPIPE, and the command ends as on
// SIGINT, its session closed at once. It exited without a goodbye before (outside audit), and the
// server kept a session for a client that was gone until its heartbeat timeout, listed in `top`.
void test('cli: a streaming command whose reader goes away exits 0 and closes its session', async () => {
  const at = `ipc://${join(scratch.dir, 'reader.sock')}`
  const { server } = await serve(['--address', at])
  const observer = await connect(at)
  const watching = new CliProcess(['watch', 'w:'], cliEnv({ ZSTATE_ADDRESS: at }))
  try {
    await watching.waitFor('stderr', (text) => text.includes('watching'))
    assert.equal((await observer.server()).clients, 2)
    await observer.state.set('w:1', 1)
    await watching.waitFor('stdout', (text) => text.includes('w:1'))
    watching.child.stdout!.destroy()
    await observer.state.set('w:2', 2)
    assert.deepEqual(await watching.exited, { code: 0, signal: null })
    // Its goodbye came before it exited: only the observer is left.
    assert.equal((await observer.server()).clients, 1)
  } finally {
    await observer.close()
    await Promise.all([watching.kill(), server.kill()])
  }
})

void test('cli: every new command fails with one line, exit 1, when no server is there', async () => {
  const commands = [
    ['incr', 'k'],
    ['clear'],
    ['clear', 'p:'],
    ['services'],
    ['call', 's', 'm', '1'],
    ['pub', 't', '1'],
    ['sub'],
    ['watch', '--resume'],
  ]
  for (const command of commands) {
    assertRuntime(
      await zstate([...command, '--address', nobody]),
      /^zstate: no server at .*: the socket file does not exist\n$/,
    )
  }
  const piped = await withStdin(['set', 'k', '-', '--address', nobody], '1')
  assert.deepEqual([piped.code, piped.stdout], [1, ''])
  assert.match(piped.stderr, /^zstate: no server at [^\n]+\n$/)
})
