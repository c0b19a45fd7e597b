import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DEFAULT_TIMEOUT, UsageError, parseCommandLine } from '../lib/cli/args.ts'
import { COMMANDS } from '../lib/cli/catalog.ts'
import { commandHelp, mainHelp } from '../lib/cli/help.ts'

const env = { ZSTATE_ADDRESS: 'ipc:///tmp/from-env.sock' }

function usage(argv: string[], pattern: RegExp, environment: NodeJS.ProcessEnv = env): void {
  assert.throws(
    () => parseCommandLine(argv, environment),
    (error: unknown) => error instanceof UsageError && pattern.test(error.message),
  )
}

void test('cli: arguments take options before or after the command, address from the environment', () => {
  assert.deepEqual(parseCommandLine(['get', 'k'], env), {
    kind: 'run',
    command: 'get',
    args: ['k'],
    options: { timeout: DEFAULT_TIMEOUT, insecure: false, address: env.ZSTATE_ADDRESS },
  })
  const explicit = parseCommandLine(['--address', 'tcp://127.0.0.1:5', 'set', 'k', '1', '-t', '250'], env)
  assert.deepEqual(explicit, {
    kind: 'run',
    command: 'set',
    args: ['k', '1'],
    options: { timeout: 250, insecure: false, address: 'tcp://127.0.0.1:5' },
  })
  const watch = parseCommandLine(['watch', 'job:', '--from-revision=7', '--address=ipc:///x'], {})
  assert.deepEqual(watch.kind === 'run' && watch.options, {
    timeout: DEFAULT_TIMEOUT,
    insecure: false,
    address: 'ipc:///x',
    fromRevision: 7,
  })
  usage(['watch', '--from-revision', '0'], /^option --from-revision expects an integer ≥ 1, got "0"$/)
})

void test('cli: arguments that are negative numbers are values, not options', () => {
  const parsed = parseCommandLine(['set', 'n', '-1.5e3'], env)
  assert.deepEqual(parsed.kind === 'run' && parsed.args, ['n', '-1.5e3'])
  const dashed = parseCommandLine(['get', '--', '-k'], env)
  assert.deepEqual(dashed.kind === 'run' && dashed.args, ['-k'])
})

void test('cli: serve and demo need no address and serve ignores ZSTATE_ADDRESS', () => {
  const parsed = parseCommandLine(['serve', '--insecure', '--actions', './a.js'], env)
  assert.deepEqual(parsed.kind === 'run' && parsed.options, {
    timeout: DEFAULT_TIMEOUT,
    insecure: true,
    actions: './a.js',
  })
  assert.equal(parseCommandLine(['demo'], {}).kind, 'run')
})

void test('cli: help and version are recognised anywhere', () => {
  assert.deepEqual(parseCommandLine(['--help'], {}), { kind: 'help' })
  assert.deepEqual(parseCommandLine(['set', '-h'], {}), { kind: 'help', command: 'set' })
  assert.deepEqual(parseCommandLine(['help', 'watch'], {}), { kind: 'help', command: 'watch' })
  usage(['help', 'get', 'extra'], /^unexpected argument "extra"$/)
  // A bad address is named where it came from: dashboard takes it as an argument too.
  usage(
    ['dashboard', 'http://x'],
    /^argument ADDRESS expects ipc:\/\/PATH or tcp:\/\/HOST:PORT, got "http:\/\/x"$/,
  )
  usage(['dashboard', '--address', 'http://x'], /^option --address expects/)
  assert.deepEqual(parseCommandLine(['--version'], {}), { kind: 'version' })
  for (const name of Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]) {
    assert.match(commandHelp(name), new RegExp(`^Usage: zstate ${name}`))
    assert.match(mainHelp(), new RegExp(`\\n  ${name} `))
  }
})

void test('cli: zstate alone asks for the help, as a usage error (exit 2)', () => {
  assert.deepEqual(parseCommandLine([], env), { kind: 'help', missingCommand: true })
})

void test('cli: an address of the wrong form is a usage error, wherever it came from', () => {
  const forms = 'ipc://PATH or tcp://HOST:PORT'
  usage(
    ['get', 'k', '--address', 'http://x'],
    new RegExp(`^option --address expects ${forms}, got "http://x"$`),
  )
  usage(['get', 'k'], new RegExp(`^ZSTATE_ADDRESS expects ${forms}, got "foo://bar"$`), {
    ZSTATE_ADDRESS: 'foo://bar',
  })
  usage(['get', 'k', '-a', 'ipc://'], /expects/)
  usage(['get', 'k', '-a', '/tmp/state'], /expects/)
  usage(['get', 'k', '-a', 'tcp://127.0.0.1:*'], /expects the port the server bound.*is for serve/)
  usage(['serve', '-a', 'udp://127.0.0.1:5'], /expects ipc:\/\/PATH or tcp:\/\/HOST:PORT \(PORT may be \*\)/)
  for (const address of ['ipc:///tmp/s', 'ipc://rel/s', 'tcp://127.0.0.1:5', 'tcp://[::1]:5', 'tcp://h:5'])
    assert.equal(parseCommandLine(['get', 'k', '-a', address], {}).kind, 'run', address)
  assert.equal(parseCommandLine(['serve', '-a', 'tcp://127.0.0.1:*'], {}).kind, 'run')
  // A list, as a person writes it: spaces after the commas.
  const list = 'tcp://127.0.0.1:5, tcp://127.0.0.1:6'
  assert.equal(parseCommandLine(['get', 'k', '-a', list], {}).kind, 'run')
  assert.equal(parseCommandLine(['get', 'k'], { ZSTATE_ADDRESS: list }).kind, 'run')
})

void test('cli: malformed command lines are usage errors that say what is wrong', () => {
  usage(['frobnicate'], /unknown command "frobnicate"/)
  usage(['get'], /missing KEY/)
  usage(['set', 'k'], /missing JSON/)
  usage(['get', 'a', 'b'], /unexpected argument "b"/)
  usage(['get', 'k', '--bogus'], /unknown option --bogus/)
  usage(['get', 'k', '-x'], /unknown option -x/)
  usage(['get', 'k', '--insecure'], /--insecure does not apply to "get"/)
  usage(['get', 'k', '--address'], /--address needs a value/)
  usage(['get', 'k', '--address', '--timeout', '5'], /--address needs a value/)
  usage(['get', 'k', '--address='], /--address must not be empty/)
  usage(['get', 'k', '--timeout', 'soon'], /--timeout expects an integer/)
  usage(['get', 'k', '--timeout', '0'], /--timeout expects an integer from 1 to 2147483647/)
  usage(['get', 'k', '--timeout', '2147483648'], /--timeout expects an integer from 1 to 2147483647/)
  usage(['get', 'k', '--timeout', '-5'], /--timeout expects an integer/)
  usage(['serve', '--insecure=yes'], /--insecure takes no value/)
  usage(['get', 'k'], /no server address/, {})
  usage(['get', 'k'], /no server address/, { ZSTATE_ADDRESS: '' })
  usage(['help', 'nope'], /unknown command "nope"/)
})
