import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { assertBuilt, cliEnv, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'
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
  assertUsage(await zstate([]), /missing command/)
})

void test('cli: an invalid JSON argument exits 2 and writes nothing', async () => {
  const env = cliEnv({ ZSTATE_ADDRESS: address })
  assertUsage(await zstate(['set', 'k', '{oops'], { env }), /not valid JSON/)
  assertUsage(await zstate(['set', 'k', '{"$bigint":"12x"}'], { env }), /\$bigint/)
  assertUsage(await zstate(['set', 'k', '{"$base64":"*"}'], { env }), /\$base64/)
  const get = await zstate(['get', 'k'], { env })
  assert.deepEqual([get.code, get.stdout, get.stderr], [1, '', ''])
})

void test('cli: no --address and no ZSTATE_ADDRESS is a usage error', async () => {
  assertUsage(await zstate(['get', 'k']), /no server address.*ZSTATE_ADDRESS/)
})

void test('cli: an unreachable server fails after --timeout with one line, exit 1', async () => {
  const { dir, cleanup } = tempDir()
  try {
    const nowhere = `ipc://${join(dir, 'nobody.sock')}`
    assertRuntime(await zstate(['get', 'k', '--address', nowhere, '--timeout', '300']), /\(ERR_TIMEOUT\)/)
  } finally {
    cleanup()
  }
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
