import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { assertBuilt, killAll, zstate } from './fixtures/cli-run.ts'

const COMMANDS = ['serve', 'get', 'set', 'del', 'keys', 'watch', 'info', 'demo']

before(assertBuilt)
after(killAll)

void test('cli: --help lists every command and exits 0', async () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const result = await zstate(args)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^zstate: /)
    for (const name of COMMANDS) assert.match(result.stdout, new RegExp(`\\n  ${name} `), name)
  }
})

void test('cli: zstate alone prints the help on stdout, as git does, and exits 2 (no command ran)', async () => {
  const [alone, help] = await Promise.all([zstate([]), zstate(['--help'])])
  assert.deepEqual([alone.code, alone.stderr], [2, ''])
  assert.equal(alone.stdout, help.stdout)
})

void test('cli: every command has its own --help', async () => {
  for (const name of COMMANDS) {
    for (const args of [
      [name, '--help'],
      ['help', name],
    ]) {
      const result = await zstate(args)
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, new RegExp(`^Usage: zstate ${name}\\b`))
      assert.equal(result.stderr, '')
    }
  }
})

// Every description of a help's option list starts in one column, on its flags' line or, for flags
// too long for the column, on the next one (a long flag pushed only its own description right).
void test('cli: each help aligns its options’ descriptions in one column', async () => {
  for (const args of [['--help'], ...COMMANDS.map((name) => [name, '--help'])]) {
    const { stdout } = await zstate(args)
    const list = stdout.slice(stdout.indexOf('\nOptions:\n') + '\nOptions:\n'.length).split('\n\n')[0]!
    const lines = list.split('\n')
    const columns = new Set<number>()
    lines.forEach((line, i) => {
      const flags = /^ {2}(?:-\w, | {4})--[\w-]+(?: \S+)?/.exec(line)?.[0]
      if (flags === undefined) return
      const rest = line.slice(flags.length)
      columns.add(rest === '' ? lines[i + 1]!.search(/\S/) : flags.length + rest.search(/\S/))
    })
    assert.ok(lines.length > 1 && columns.size === 1, `${args.join(' ')}:\n${list}`)
  }
})

void test('cli: --version prints the package version', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  const result = await zstate(['--version'])
  assert.deepEqual([result.code, result.stdout], [0, `${pkg.version}\n`])
})
