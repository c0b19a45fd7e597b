import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { promisify } from 'node:util'
import type { WorkerContext } from '../lib/index.ts'
import { assertDistBuilt, contextFor, fixtureUrl } from './process-support.ts'

const run = promisify(execFile)

void test('process: spawn runs a TypeScript module under tsx and returns its result; it shares the state', async (t) => {
  const ctx = await contextFor<{ sum: number }>(t)
  const child = ctx.spawn<number>(fixtureUrl('worker-add.ts'), { args: [2, 40], name: 'adder' })
  assert.equal(child.name, 'adder')
  assert.equal(child.attempts, 1)
  assert.equal(await child.wait(), 42)
  assert.equal(child.status, 'exited')
  assert.equal(child.exitCode, 0)
  assert.equal(typeof child.pid, 'number')
  assert.equal(child.threadId, undefined)
  await ctx.state.sync()
  assert.equal(ctx.state.get('sum'), 42)
})

void test('process: targets may be a URL, a URL string or a path, and values cross by structured clone', async (t) => {
  const ctx = await contextFor(t)
  const path = fileURLToPath(fixtureUrl('worker-print.mjs'))
  const date = new Date(0)
  const bytes = new Uint8Array([1, 2, 3])
  const results = await Promise.all([
    ctx.spawn(fixtureUrl('worker-print.mjs'), { args: [1n, date] }).wait(),
    ctx.spawn(fixtureUrl('worker-print.mjs').href, { args: [new Map([['k', bytes]])] }).wait(),
    ctx.spawn(path, { args: [undefined, null] }).wait(),
  ])
  assert.deepEqual(results, [[1n, date], [new Map([['k', bytes]])], [undefined, null]])
  // Children are named after the module's file; a data: URL has none, so they are named "data".
  const fromText = ctx.spawn('data:text/javascript,export default (ctx, a) => a * 2', { args: [21] })
  assert.match(fromText.name, /^data-\d+$/)
  assert.equal(await fromText.wait(), 42)
  // A URL that is not percent-encoded text is named as written, and fails in the child as import() does.
  const unencoded = ctx.spawn(new URL('file:///nowhere/100%zz.mjs'))
  assert.match(unencoded.name, /^100%zz-\d+$/)
  await assert.rejects(unencoded.wait(), /URI malformed/)
})

void test('process: a self-contained function is sent as source (tsx helpers included) and gets ctx and args', async (t) => {
  const ctx = await contextFor<{ seen: number }>(t)
  const child = ctx.spawn(
    async function worker(c: WorkerContext<{ seen: number }>, x: number, label: string) {
      const inner = (n: number) => n * 2 // a named arrow: tsx wraps it in __name()
      await c.state.set('seen', inner(x))
      return `${label}:${inner(x)}:${c.name}`
    },
    { args: [21, 'ok'] },
  )
  assert.match(child.name, /^worker-\d+$/)
  assert.equal(await child.wait(), `ok:42:${child.name}`)
  await ctx.state.sync()
  assert.equal(ctx.state.get('seen'), 42)
})

void test('process: a child spawns grandchildren through its own ctx; all share one state', async (t) => {
  const ctx = await contextFor<Record<string, number>>(t)
  const parent = ctx.spawn(async (c: WorkerContext<Record<string, number>>) => {
    const kids = [1, 2, 3].map((n) =>
      c.spawn(
        async (g: WorkerContext<Record<string, number>>, k: number) => {
          await g.state.increment('grandchildren')
          return k * 10
        },
        { args: [n] },
      ),
    )
    const values = await Promise.all(kids.map((kid) => kid.wait()))
    return { values, seen: c.state.get('grandchildren'), pids: kids.map((kid) => kid.pid) }
  })
  const { values, pids } = await parent.wait()
  assert.deepEqual(values, [10, 20, 30])
  assert.equal(new Set(pids).size, 3)
  await ctx.state.sync()
  assert.equal(ctx.state.get('grandchildren'), 3)
})

void test('process: thread mode runs the same targets in a worker thread with the same contract', async (t) => {
  const ctx = await contextFor<{ sum: number; where: string }>(t)
  const module = ctx.spawn<number>(fixtureUrl('worker-add.ts'), { args: [1, 2], thread: true })
  assert.equal(await module.wait(), 3)
  assert.equal(module.pid, process.pid)
  assert.equal(typeof module.threadId, 'number')
  const fn = ctx.spawn(
    async (c: WorkerContext<{ sum: number; where: string }>) => {
      const { isMainThread } = await import('node:worker_threads')
      await c.state.set('where', isMainThread ? 'main' : 'thread')
      return c.state.get('sum')
    },
    { thread: true },
  )
  assert.equal(await fn.wait(), 3)
  await ctx.state.sync()
  assert.equal(ctx.state.get('where'), 'thread')
  // A function sees the same globals in either: none of the ones eval code gets in a thread.
  const globals = (): string[] =>
    ['require', 'module', 'exports', '__filename', '__dirname'].filter((name) => name in globalThis)
  for (const thread of [false, true])
    assert.deepEqual(await ctx.spawn(globals, { thread }).wait(), [], `thread: ${thread}`)
  // A TypeScript module that tsx loads as CommonJS ("type": "commonjs"): the thread registers both of
  // tsx's loaders, as --import tsx does in a process (outside audit: ERR_REQUIRE_CYCLE_MODULE).
  const commonjs = fixtureUrl('commonjs/worker-plain.ts')
  for (const thread of [false, true])
    assert.equal(await ctx.spawn<number>(commonjs, { args: [41], thread }).wait(), 42, `thread: ${thread}`)
})

// The app requires zstate, so it runs zstate's CommonJS copy (dist/): there tsx's loaders were
// resolved for require(), and a thread failed to import tsx's CommonJS esm/api (outside audit).
void test('process: a TypeScript app of a CommonJS package, under tsx, spawns TypeScript modules as processes and threads', async () => {
  assertDistBuilt()
  const parent = fileURLToPath(fixtureUrl('commonjs/parent.ts'))
  const { stdout } = await run(process.execPath, ['--import', 'tsx', parent], { timeout: 120_000 })
  assert.equal(stdout, '42 42\n')
})

// `--input-type` goes with -e and stdin code, where Node allows it only: the server and children of such
// a script failed to start with it (ERR_INPUT_TYPE_NOT_ALLOWED; found by an outside audit).
void test('process: a script run by node --input-type=module -e starts its context and children', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const code = [
    "import { createContext } from 'zstate'",
    "const ctx = await createContext({ name: 'eval' })",
    "await ctx.state.set('k', 7)",
    'console.log(await ctx.spawn((c) => c.state.get("k")).wait())',
    'await ctx.close()',
  ].join('\n')
  // From the repository root, `import 'zstate'` resolves to this package itself (its built dist/).
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    timeout: 60_000,
  })
  assert.equal(stdout.trim(), '7')
})

void test(
  'process: a plain JavaScript parent on the built package spawns, forwards output with the name, maps, with the code cache or without, and a child decodes with the native extractor once it has a megabyte',
  { timeout: 120_000 },
  async () => {
    const script = fileURLToPath(fixtureUrl('compiled-parent.mjs'))
    const env = { ...process.env }
    delete env['ZSTATE_ADDRESS']
    // No tsx here: the bootstrap and every module run as compiled JavaScript from dist/.
    const { stdout, stderr } = await run(process.execPath, [script], { env, timeout: 100_000 })
    const lines = stdout.trim().split('\n')
    const { extractor, ...spawned } = JSON.parse(lines.at(-1)!) as {
      extractor: { installed: boolean; loaded: boolean; read: unknown }
    }
    assert.deepEqual(spawned, {
      module: ['a', 1],
      fn: 42,
      imports: 'function',
      thread: ['t'],
      mapped: [2, 3, 4],
      cached: true,
      uncached: true,
    })
    // The child's copy of msgpackr is bundled into its copy of zstate; the extractor loads for it too.
    assert.equal(extractor.loaded, extractor.installed, 'the child loaded msgpackr-extract')
    assert.deepEqual(extractor.read, { text: `é${'x'.repeat(300)}ü`, big: `7:${'y'.repeat(4_000)}` })
    assert.ok(lines.includes('[printer] out a 1'), stdout)
    assert.ok(lines.includes('[thread printer] out t'), stdout)
    assert.match(stderr, /^\[printer\] err a 1$/m)
  },
)
