import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { serverFor } from './support.ts'

// The examples in docs/examples run as users run them: plain node, importing 'zstate' by name (from
// the repository root that resolves to this package's build).
const root = new URL('..', import.meta.url).pathname
const example = (name: string): string => new URL(`../docs/examples/${name}`, import.meta.url).pathname
const run = promisify(execFile)

test('messaging example: the squares pipeline with ctx.map', async () => {
  const { stdout } = await run(process.execPath, [example('squares-map.mjs'), '50'], {
    cwd: root,
    timeout: 120_000,
  })
  assert.equal(stdout, 'squared 50 numbers: sum of squares = 42925\n')
})

test('messaging example: the squares pipeline by hand with services and a topic', async () => {
  const { stdout } = await run(process.execPath, [example('squares-services.mjs'), '60', '3'], {
    cwd: root,
    timeout: 120_000,
  })
  assert.equal(stdout, '3 workers squared 60 numbers\ncollected 60 squares: sum of squares = 73810\n')
})

test('messaging example: a long-running node provides until stopped; another waits for it and calls it', async (t) => {
  const server = await serverFor(t, 'ipc')
  const env = { ...process.env, ZSTATE_ADDRESS: server.address }
  // The client starts first: it waits for the service.
  const client = run(process.execPath, [example('greeter-client.mjs')], { cwd: root, env, timeout: 120_000 })
  const node = spawn(process.execPath, [example('greeter-node.mjs')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => node.kill('SIGKILL'))
  let nodeOut = ''
  node.stdout.on('data', (chunk: Buffer) => (nodeOut += chunk.toString()))
  const { stdout } = await client
  assert.deepEqual(stdout.trim().split('\n'), [
    'waiting for the greeter…',
    'found greeter: 1 provider(s), methods hello, stats',
    'hello, world!',
    'the greeter has greeted 1 time(s)',
  ])
  node.kill('SIGTERM')
  const [code] = (await once(node, 'exit')) as [number | null]
  assert.equal(code, 0)
  assert.equal(nodeOut, 'greeter: providing\ngreeter: stopped after 1 greeting(s)\n')
})
