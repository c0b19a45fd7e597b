// The command line as an operator runs it: what a command downloads, what it prints while other
// clients write, and how it ends when its stderr reader, its terminal or stdin go away.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { connect } from '../lib/index.ts'
import { CLI, CliProcess, assertBuilt, cliEnv, killAll, serve, zstate } from './fixtures/cli-run.ts'
import type { Result } from './fixtures/cli-run.ts'
import { fixture, tempDir } from './support.ts'
import { until } from './process-support.ts'

before(() => assertBuilt())
after(() => killAll())

void test('cli: a command replicates only the keys it reads: one key, a prefix, or none', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const server = fixture(t, 'server-join-log', [JSON.stringify({ address })])
  await server.event(1)
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  let seen = 1
  const cases: [string[], string[] | null][] = [
    [['set', 'job:1', '1'], []],
    [['get', 'job:1'], ['job:1']],
    [['incr', 'n'], ['n']],
    [['del', 'job:1'], []],
    [['keys', 'job:'], ['job:']],
    [['keys'], ['']],
    [['clear', 'job:'], ['job:']],
    [['clear'], []],
    [['info'], []],
    [['services'], []],
    [['pub', 'news', '1'], []],
    [['top', '--once'], []],
  ]
  for (const [args, replicate] of cases) {
    const result = await zstate(args, { env })
    assert.equal(result.code, 0, `zstate ${args.join(' ')}: ${result.stderr}`)
    assert.deepEqual(await server.event(++seen), { name: `zstate ${args[0]}`, replicate }, args.join(' '))
  }
  for (const [args, replicate] of [
    [['watch', 'job:'], ['job:']],
    [['sub'], []],
  ] as const) {
    const streaming = new CliProcess(args, env)
    assert.deepEqual(await server.event(++seen), { name: `zstate ${args[0]}`, replicate }, args.join(' '))
    assert.equal((await streaming.signal('SIGINT')).code, 0)
  }
})

void test('cli: clear prints its own revision, or nothing, however many commits other clients make', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const { server } = await serve(['--address', address])
  t.after(() => server.kill())
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  const writer = await connect(address)
  t.after(() => writer.close())
  let writing = true
  const busy = (async () => {
    for (let i = 0; writing; i++) await writer.state.set('busy', i)
  })()
  try {
    for (let round = 0; round < 5; round++) {
      await until(() => (writer.state.get('busy') as number | undefined) !== undefined, 'writes going on')
      const empty = await zstate(['clear', 'nothing:'], { env })
      assert.equal(empty.code, 0, empty.stderr)
      assert.equal(empty.stdout, '', 'no revision for a clear that deleted nothing')
      assert.match(empty.stderr, /^zstate: nothing to clear: no key starts with "nothing:"\n$/)

      await writer.state.update({ [`job:${round}a`]: 1, [`job:${round}b`]: 2 })
      const deletes = writer.state.watch({ prefix: 'job:', fromRevision: writer.state.revision + 1 })
      const cleared = await zstate(['clear', 'job:'], { env })
      assert.equal(cleared.code, 0, cleared.stderr)
      for await (const change of deletes) {
        assert.equal(cleared.stdout, `${change.revision}\n`, 'the revision that deleted the keys')
        break
      }
    }
  } finally {
    writing = false
    await busy
  }
})

// `zstate ...args` whose stderr is a pipe nobody reads any more.
function withStderrClosed(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stderr.destroy()
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr: '' }))
  })
}

void test('cli: a command whose stderr reader went away still exits with its own code', async (t) => {
  const env = cliEnv()
  const nobody = `ipc://${join(tempDir(t), 'nobody')}`
  assert.equal((await withStderrClosed(['get', 'k', '--address', nobody], env)).code, 1, 'a runtime error')
  assert.equal(
    (await withStderrClosed(['set', 'k', 'hello', '--address', nobody], env)).code,
    2,
    'a usage error',
  )
})

void test('cli: serve closes cleanly on SIGTERM after its log reader went away, and on SIGHUP', async (t) => {
  const dir = tempDir(t)
  // Its log on a pipe whose reader is gone: the shutdown still closes the server.
  const socket = join(dir, 'closed-log')
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--address', `ipc://${socket}`, '--data-dir', join(dir, 'data')],
    {
      env: cliEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  t.after(() => child.kill('SIGKILL'))
  child.stderr.destroy()
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
  child.kill('SIGTERM')
  assert.equal(await exited, 0)
  assert.equal(existsSync(socket), false, 'its socket file removed')
  assert.equal(existsSync(join(dir, 'data', 'LOCK')), false, 'its data dir unlocked')

  // The terminal it ran in went away (an ssh session dropped): closed as on SIGTERM.
  const address = `ipc://${join(dir, 'hangup')}`
  const { server } = await serve(['--address', address])
  const exit = await server.signal('SIGHUP')
  assert.deepEqual(exit, { code: 0, signal: null })
  assert.match(server.stderr, /interrupted by SIGHUP/)
  assert.equal(existsSync(join(dir, 'hangup')), false, 'its socket file removed')
})

void test('cli: set KEY - refuses stdin that is not UTF-8, and stops on SIGINT while stdin is open', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: 'ipc:///nonexistent/zstate' })
  const latin1 = await new Promise<Result>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'set', 'k', '-'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }))
    child.stdin.end(Buffer.from('{"name":"caf\xe9"}', 'latin1'))
  })
  assert.equal(latin1.code, 2)
  assert.match(latin1.stderr, /^zstate: the value on stdin is not UTF-8 text, as JSON must be\n/)

  // stdin held open: the command waits for it until interrupted (its debug line: it is reading).
  const waiting = spawn(process.execPath, [CLI, 'set', 'k', '-'], {
    env: { ...env, NODE_DEBUG: 'zstate' },
    stdio: ['pipe', 'ignore', 'pipe'],
  })
  let stderr = ''
  waiting.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => waiting.on('close', (code) => resolve(code)))
  waiting.stdin.write('{"a":')
  await until(() => stderr.includes('reading the value from stdin'), 'the command reads stdin')
  waiting.kill('SIGINT')
  assert.equal(await exited, 1)
  assert.match(stderr, /\nzstate: interrupted by SIGINT \(ERR_ABORTED\)\n$/)
})
