import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { CliProcess, assertBuilt, cliEnv, isGone, killAll, zstate } from './fixtures/cli-run.ts'

before(assertBuilt)
after(killAll)

// Every "pid N" the demo printed: its worker processes.
function pids(output: string): number[] {
  return [...output.matchAll(/\bpid (\d+)/g)].map((m) => Number(m[1])).filter((pid) => pid !== 0)
}

void test('cli: demo runs the showcase with no configuration, exits 0 and leaves no process behind', async () => {
  const result = await zstate(['demo'], { timeout: 60_000 })
  assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout}`)
  assert.match(result.stdout, /Summary/)
  assert.equal(result.stdout.match(/✔ every replica agrees/g)?.length, 1)
  assert.doesNotMatch(result.stdout, /✘/)
  assert.match(result.stdout, /^ {2}█+ 60\/60 chunks$/m, 'the map phase ends with a full progress bar')
  assert.match(result.stdout, /✔ ctx\.close\(\) stopped everything: \d+ processes started, none left/)
  assert.ok(!result.stdout.includes('\u001b['), 'no colours when stdout is not a terminal')
  const workers = pids(result.stdout)
  assert.equal(workers.length, 4, "the context's server and three workers show their pids")
  for (const pid of workers) assert.ok(isGone(pid), `pid ${pid} is gone`)
})

void test('cli: demo ignores ZSTATE_ADDRESS and colours only on request', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: 'ipc:///nonexistent/zstate.sock', FORCE_COLOR: '1' })
  const result = await zstate(['demo'], { env, timeout: 60_000 })
  assert.equal(result.code, 0, result.stderr)
  assert.ok(result.stdout.includes('\u001b[32m✔'), 'green ticks')
})

void test('cli: demo interrupted by SIGINT stops its workers and exits 1 with one line', async () => {
  const demo = new CliProcess(['demo'])
  try {
    await demo.waitFor('stdout', (text) => pids(text).length === 4)
    const workers = pids(demo.stdout)
    const exit = await demo.signal('SIGINT')
    // It may have finished just before the signal arrived; either way nothing is left running.
    if (exit.code !== 0) {
      assert.equal(exit.code, 1)
      assert.match(demo.stderr, /^zstate: interrupted by SIGINT \(ERR_ABORTED\)\n$/)
    }
    for (const pid of workers) assert.ok(isGone(pid), `worker pid ${pid} is gone`)
  } finally {
    await demo.kill()
  }
})
