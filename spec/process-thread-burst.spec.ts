import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { assertDistBuilt, contextFor, fixtureUrl, stressFor } from './process-support.ts'
import { stress } from './support.ts'

// Bursts of thread children, whose sockets their parent holds (lib/process/socket-host.ts). Each case
// but the first runs a parent process (spec/fixtures/thread-burst.mjs, plain JavaScript on dist/), so
// that an abort (zeromq.js#411) or an error thrown in its socket host shows as its exit code.

before(assertDistBuilt)

const script = fileURLToPath(fixtureUrl('thread-burst.mjs'))

// The parent's report, after it exited with 0; run under `sh -c` to give it a lower fd limit.
async function burst(args: string[], fds?: number): Promise<any> {
  const command =
    fds === undefined
      ? [process.execPath, script]
      : ['sh', '-c', `ulimit -n ${fds} && exec "$0" "$@"`, process.execPath, script]
  const [file, ...rest] = command as [string, ...string[]]
  const { stdout } = await promisify(execFile)(file, [...rest, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  })
  return JSON.parse(stdout)
}

void test('process: a thread child that uses its ctx loads no zeromq', async (t) => {
  const ctx = await contextFor(t)
  const loaded = await ctx
    .spawn(
      async (ctx) => {
        await ctx.state.increment('n')
        const { createRequire } = process.getBuiltinModule('node:module')
        return Object.keys(createRequire(`${process.cwd()}/`).cache).filter((path) => path.includes('zeromq'))
      },
      { thread: true },
    )
    .wait({ timeout: 30_000 })
  assert.deepEqual(loaded, [])
  assert.equal(ctx.state.get('n'), 1)
})

void test('process: thread children whose clients need more than libzmq’s 1,023 sockets all succeed', async () => {
  // 30 children of 10 clients each need 1,200 sockets; an fd limit of 8,192 allows 2,048. (As many
  // threads of one client each, 300 of them, would also test their heartbeats on 2 loaded cores.)
  assert.deepEqual(await burst(['limit', '30'], 8192), { ok: 30, failures: [] })
})

void test('process: 200 thread children using their ctx at once all succeed', { skip: !stress }, async () => {
  assert.deepEqual(await burst(['all', '200']), { ok: 200, n: 200 })
})

void test('process: closing a context while a burst of thread children starts exits cleanly', async () => {
  const rounds = stressFor(1, 10)
  assert.deepEqual(await burst(['close', String(stressFor(30, 100)), String(rounds)]), { rounds })
})

// Under npm test's load one run in a few waited out its 60 s for a child that neither opened its
// clients nor failed: stress only until that is understood.
void test(
  'process: a thread child its parent cannot open a socket for fails, naming the limit; the rest go on',
  { skip: !stress },
  async () => {
    // 30 children of 10 clients each need 1,200 sockets; an fd limit of 4,096 allows 1,024.
    const { ok, failures } = await burst(['limit', '30'], 4096)
    assert.ok(failures.length > 0, 'some children failed')
    assert.equal(ok + failures.length, 30)
    for (const failure of failures) {
      assert.equal(failure.code, 'ERR_PROCESS_EXIT')
      assert.match(
        failure.message,
        /could not (open a (dealer|sub) socket|watch a socket's handshakes) for it in its parent: .*at most 1024 sockets, ZMQ_MAX_SOCKETS/,
      )
    }
  },
)
