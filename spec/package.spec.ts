import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from './support.ts'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname

test('package: closing every server, client, watcher and waiter leaves the event loop empty', async () => {
  const child = spawn(process.execPath, [join(root, 'spec/fixtures/lifecycle.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  assert.equal(code, 0)
  assert.equal(out, 'closed\n')
})

test('package: the built package imports by its name', async () => {
  const zstate = await import('zstate')
  assert.equal(typeof zstate.startServer, 'function')
  assert.equal(typeof zstate.connect, 'function')
  assert.ok(zstate.isZStateError(new zstate.ZStateError('ERR_TIMEOUT', 'x')))
})

// The build bundles a fixed list of entry points (package.json, build:js:*); zstate starts the rest
// of its entries by path (libEntry), so each one must be on that list.
test('package: every module zstate starts by path is an entry point of the build', () => {
  const named = new Set<string>()
  for (const file of readdirSync(join(root, 'lib'), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue
    const source = readFileSync(join(root, 'lib', file), 'utf8')
    for (const [, path] of source.matchAll(/libEntry\('([^']+)'\)/g)) named.add(path!)
    const processEntries = /entryUrl\(name: ([^)]+)\)/.exec(source)?.[1]
    for (const [, name] of processEntries?.matchAll(/'([^']+)'/g) ?? []) named.add(`process/${name}`)
  }
  assert.ok(named.size >= 6, [...named].join(', '))
  const scripts = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts
  const entries = `${scripts['build:js:library']} ${scripts['build:js:child']}`
  for (const path of named) {
    assert.ok(entries.includes(` lib/${path}.ts `), `lib/${path}.ts is not an entry of build:js`)
    // An entry is built as an ES module, or as CommonJS (the child's bootstrap).
    const built = ['.js', '.cjs'].some((extension) =>
      existsSync(join(root, 'dist/lib', `${path}${extension}`)),
    )
    assert.ok(built, `dist/lib/${path}.js (or .cjs) is missing`)
  }
})

test(
  'package: npm pack installs into an empty project, imports as zstate and runs its command',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir(t)
    // The dist/ that npm test built: npm pack would otherwise run `prepare` and rebuild it in place,
    // under the specs running alongside this one.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], {
      cwd: root,
    })
    const tarball = join(dir, stdout.trim().split('\n').pop()!)
    // What users get: the build and the docs, not the tools that make the docs (they import specs).
    const shipped = (await run('tar', ['tzf', tarball])).stdout.split('\n')
    assert.ok(shipped.includes('package/dist/lib/index.js') && shipped.includes('package/docs/state.md'))
    assert.deepEqual(
      shipped.filter((file) => /^package\/(spec|lib|benchmarks|docs\/tools)\//.test(file)),
      [],
    )
    const project = join(dir, 'project')
    await run('mkdir', ['-p', project])
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    )
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project })
    // A target that imports zstate itself gets the child's own copy: its errors, its startServer.
    // A script it forks inherits the child's flags, and gets zstate there, not a child's behaviour.
    writeFileSync(
      join(project, 'target.mjs'),
      `import { fork } from 'node:child_process'
import { once } from 'node:events'
import { ZStateError, connect, startServer } from 'zstate'
export default async (ctx) => {
  const refused = await ctx.state.set('k', () => 1).then(() => undefined, (error) => error)
  const server = await startServer()
  const client = await connect(server.address)
  await client.state.set('inner', 1)
  const inner = client.state.get('inner')
  await client.close()
  await server.close()
  const script = fork(new URL('./script.mjs', import.meta.url))
  const said = []
  script.on('message', (message) => said.push(message))
  const [code] = await once(script, 'close')
  return [refused instanceof ZStateError, refused.code, inner, JSON.stringify(said), code].join(' ')
}
`,
    )
    writeFileSync(
      join(project, 'script.mjs'),
      `import { isZStateError } from 'zstate'
process.send(typeof isZStateError, () => process.disconnect())
`,
    )
    writeFileSync(
      join(project, 'use.mjs'),
      `import { realpathSync } from 'node:fs'
import { startServer, connect, createContext } from 'zstate'
const server = await startServer()
const client = await connect(server.address)
await client.state.set('hello', 'world')
console.log(client.state.get('hello'))
await client.close()
await server.close()
// The package's other entry points: a context's own server, a child process and a worker thread.
const ctx = await createContext()
await ctx.state.set('n', 1)
const read = (ctx) => ctx.state.get('n') + 1
console.log(await ctx.spawn(read).wait(), await ctx.spawn(read, { thread: true }).wait())
const target = new URL('./target.mjs', import.meta.url)
console.log(await ctx.spawn(target).wait())
console.log(await ctx.spawn(target, { thread: true }).wait())
// A child's remote stack names the file it ran here, before a code cache exists and from it (a
// function that reads its ctx: one that does not runs without child-main).
const childFile = realpathSync(new URL('./node_modules/zstate/dist/lib/process/child-main.cjs', import.meta.url))
const stack = () => ctx.spawn((c) => { throw new Error(\`boom in \${c.name}\`) }).wait().catch((error) => error.stack)
console.log(
  [await stack(), await stack()].map((text) => text.includes(\`(\${childFile}:\`)).join(' '),
)
await ctx.close()
`,
    )
    const cache = join(project, 'node_modules/zstate/dist/lib/process/child-main.cache')
    // The package holds no code cache: V8 would keep the build's path in remote stacks.
    assert.equal(existsSync(cache), false)
    assert.equal(
      (await run(process.execPath, ['use.mjs'], { cwd: project })).stdout,
      'world\n2 2\ntrue ERR_UNENCODABLE 1 ["function"] 0\ntrue ERR_UNENCODABLE 1 ["function"] 0\ntrue true\n',
    )
    // The first child wrote one for the installed file, as it exited: with what its job compiled
    // too (joining, running, reporting, closing), marked so that later children keep it.
    const made = readFileSync(cache)
    assert.equal(
      made.toString('utf8', 0, made.indexOf(0)),
      realpathSync(join(project, 'node_modules/zstate/dist/lib/process/child-main.cjs')),
    )
    assert.equal(made.toString('utf8', made.indexOf(0) + 1, made.indexOf(0) + 2), '1', 'made after a job')
    // CommonJS code requires it (Node 20 cannot require an ES module): the same API, from the one file
    // a child runs.
    writeFileSync(
      join(project, 'use.cjs'),
      `const { startServer, connect, createContext, isZStateError } = require('zstate')
;(async () => {
  const server = await startServer()
  const client = await connect(server.address)
  await client.state.set('hello', 'cjs')
  const ctx = await createContext()
  await ctx.state.set('n', 41)
  const child = await ctx.spawn((c) => c.state.get('n') + 1).wait()
  console.log(client.state.get('hello'), child, typeof isZStateError)
  await ctx.close()
  await client.close()
  await server.close()
})()
`,
    )
    assert.equal((await run(process.execPath, ['use.cjs'], { cwd: project })).stdout, 'cjs 42 function\n')
    // The same app bundled with zstate inlined (zstate and zeromq stay installed beside it): it took
    // itself for a child (its file is the one the inlined copy was built as) and exited 2.
    const esbuild = join(root, 'node_modules/.bin/esbuild')
    await run(
      esbuild,
      [
        'use.cjs',
        '--bundle',
        '--platform=node',
        '--format=cjs',
        '--external:zeromq',
        '--outfile=bundle.cjs',
        '--log-level=warning',
      ],
      { cwd: project },
    )
    assert.equal((await run(process.execPath, ['bundle.cjs'], { cwd: project })).stdout, 'cjs 42 function\n')
    const help = await run(join(project, 'node_modules/.bin/zstate'), ['--help'], { cwd: project })
    assert.match(help.stdout, /serve/)
  },
)

// `npx zstate` in this repository (the Quick start's second command) links the package into npx's
// cache, and npm runs the linked package's `prepare` there: unguarded, a second build that rewrites
// dist/ in place, twenty seconds before the demo starts and under whatever runs on dist/ meanwhile.
test('package: npx zstate in a fresh npx cache runs the built command and leaves dist/ as it is', async (t) => {
  const cache = tempDir(t)
  const cli = join(root, 'dist/lib/cli/main.js')
  const before = statSync(cli)
  const { stdout } = await run('npx', ['--yes', 'zstate', '--version'], {
    cwd: join(root, 'spec'),
    env: { ...process.env, npm_config_cache: cache },
  })
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  assert.equal(stdout.trim(), version)
  const after = statSync(cli)
  assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'dist/ was rebuilt')
})
