// NODE_DEBUG=zstate (docs/state.md "Debug log"): the join and every request and reply go to stderr
// through util.debuglog; without it, nothing does.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { assertBuilt, cliEnv, killAll, zstate } from './fixtures/cli-run.ts'
import { serverFor } from './support.ts'

before(assertBuilt)
after(killAll)

void test('debug: NODE_DEBUG=zstate logs the join, requests and replies; unset, nothing', async (t) => {
  const server = await serverFor(t, 'ipc')
  const logged = await zstate(['set', 'k', '{"v":1}', '--address', server.address], {
    env: cliEnv({ NODE_DEBUG: 'zstate' }),
  })
  assert.equal(logged.code, 0, logged.stderr)
  const lines = logged.stderr.split('\n').filter((line) => line.startsWith('ZSTATE '))
  assert.ok(
    lines.some((line) => line.includes(`joined ${server.address}`)),
    logged.stderr,
  )
  assert.ok(
    lines.some((line) => /request #\d+ op 6 \["k",\{"v":1\}\]/.test(line)),
    logged.stderr,
  )
  assert.ok(
    lines.some((line) => /acknowledged #\d+ by its commit \[\d+\]/.test(line)),
    logged.stderr,
  )
  const quiet = await zstate(['set', 'k', '2', '--address', server.address])
  assert.equal(quiet.code, 0, quiet.stderr)
  assert.doesNotMatch(quiet.stderr, /ZSTATE /)
})
