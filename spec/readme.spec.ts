import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { promisify } from 'node:util'

const root = new URL('..', import.meta.url).pathname
const run = promisify(execFile)

test('readme: the example runs as written against the built package and exits by itself', async () => {
  const readme = readFileSync(new URL('README.md', `file://${root}`), 'utf8')
  const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
  assert.ok(example, 'README has a js example')
  // Evaluated from the repository root, `import … from 'zstate'` resolves to this package itself.
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', example], {
    cwd: root,
    timeout: 60_000,
  })
  assert.deepEqual(stdout.trim().split('\n'), [
    "1 [ 'build', 'test' ]",
    "[ 'build', 'test' ]",
    'job:build { ok: true } 2',
    '1',
  ])
})
