import assert from 'node:assert/strict'
import { stripVTControlCharacters } from 'node:util'
import { after, before, test } from 'node:test'
import { colorsFor } from '../lib/cli/colors.ts'
import { DemoLog } from '../lib/cli/demo-log.ts'
import type { Io } from '../lib/cli/report.ts'
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

// From an outside audit: a dumb terminal (TERM=dumb) got colours and redraws; on a terminal narrower
// than the progress line, each redraw wrapped and left a row behind; and an interruption during the
// map wrote its line on stderr right after the bar, on the same row.
void test('cli: demo output fits its terminal: no colours or redraws on a dumb one, a bar within its width', () => {
  const tty = { isTTY: true }
  assert.equal(colorsFor(tty, { TERM: 'xterm-256color' }).enabled, true)
  assert.equal(colorsFor(tty, { TERM: 'dumb' }).enabled, false)
  assert.equal(colorsFor(tty, { TERM: 'dumb', FORCE_COLOR: '1' }).enabled, true)
  assert.equal(colorsFor(tty, { TERM: 'xterm', NO_COLOR: '1', FORCE_COLOR: '1' }).enabled, false)
  const terminal = (columns: number) => {
    const written: string[] = []
    // What DemoLog uses of a terminal's stream: its size and write().
    const stdout = {
      isTTY: true,
      columns,
      write: (chunk: string) => written.push(chunk) > 0,
    } as unknown as Io['stdout']
    return {
      written,
      log: new DemoLog({ stdout, stderr: stdout }, colorsFor(stdout, { TERM: process.env['TERM'] }), 40),
    }
  }
  const term = process.env['TERM']
  try {
    process.env['TERM'] = 'xterm'
    for (const columns of [80, 30]) {
      const { written, log } = terminal(columns)
      log.progress(41, 60, 'chunks')
      const [drawn] = written.splice(0)
      assert.ok(drawn!.startsWith('\r'), 'redrawn in place')
      assert.ok(
        stripVTControlCharacters(drawn!.slice(1)).length < columns,
        `fits ${columns} columns: ${drawn}`,
      )
      log.end()
      assert.deepEqual(written.splice(0), ['\n'], 'an interrupted bar ends its line')
      log.progress(60, 60, 'chunks')
      log.end()
      assert.equal(written.join('').match(/\n/g)?.length, 1, 'a finished bar ends its own line, once')
    }
    process.env['TERM'] = 'dumb'
    const { written, log } = terminal(80)
    for (let done = 1; done <= 60; done++) log.progress(done, 60, 'chunks')
    assert.equal(written.length, 4, 'a line per quarter, as to a file')
    assert.ok(written.every((line) => !line.includes('\r') && !line.includes('\u001b')))
  } finally {
    if (term === undefined) delete process.env['TERM']
    else process.env['TERM'] = term
  }
})
