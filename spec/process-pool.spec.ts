// createContext({ pool }): warm children that spawn and map take first. Each runs one target and is
// replaced, so nothing of one target reaches the next; they die with their parent however it dies.
import assert from 'node:assert/strict'
import { spawn as spawnProcess } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ProcessExitError, type Context, type WorkerContext } from '../lib/index.ts'
import type { ContextImpl } from '../lib/process/context.ts'
import type { WarmPool } from '../lib/process/warm-pool.ts'
import { allGone, assertDistBuilt, contextFor, fixtureUrl, until } from './process-support.ts'

function poolOf(ctx: Context): WarmPool {
  const pool = (ctx as unknown as ContextImpl<object>).warmPool
  assert.ok(pool !== undefined, 'the context has a warm pool')
  return pool
}

// A fresh snapshot of the warm pids once the pool is full.
async function warmPids(ctx: Context): Promise<Set<number>> {
  const pool = poolOf(ctx)
  await pool.ready()
  return new Set(pool.pids)
}

void test('pool: spawn takes warm children, and the pool fills again once spawning pauses', async (t) => {
  const ctx = await contextFor(t, { pool: { size: 3 } })
  const warm = await warmPids(ctx)
  assert.equal(warm.size, 3)
  ctx.spawn(async (c: WorkerContext, n: number) => [process.pid, await c.state.increment('n', n)], {
    count: 3,
    args: [2],
  })
  const results = (await ctx.wait()) as [number, number][]
  assert.deepEqual(new Set(results.map(([pid]) => pid)), warm)
  assert.equal(ctx.state.get('n'), 6)
  await allGone([...warm])
  const refilled = await warmPids(ctx)
  assert.equal(refilled.size, 3)
  for (const pid of refilled) assert.ok(!warm.has(pid), 'a replacement, never a used child')
})

void test('pool: a target’s globals never reach the next target, and a child a target crashed is never reused', async (t) => {
  const ctx = await contextFor(t, { pool: { size: 1 } })
  const seen: number[] = []
  for (let round = 0; round < 3; round++) {
    const warm = await warmPids(ctx)
    const child = ctx.spawn(() => {
      const g = globalThis as { leaked?: number }
      const before = g.leaked
      g.leaked = process.pid
      return [process.pid, before ?? null]
    })
    const [pid, before] = (await child.wait()) as [number, number | null]
    assert.ok(warm.has(pid), 'it ran on the warm child')
    assert.equal(before, null, 'no global of an earlier target')
    seen.push(pid)
  }
  const warm = await warmPids(ctx)
  const crash = ctx.spawn(() => process.exit(3))
  const error = await crash.wait().catch((e: unknown) => e)
  assert.ok(error instanceof ProcessExitError && error.exitCode === 3)
  const crashed = crash.pid!
  assert.ok(warm.has(crashed))
  const after = await warmPids(ctx)
  assert.ok(!after.has(crashed))
  assert.equal(new Set([...seen, crashed, ...after]).size, seen.length + 1 + after.size, 'every pid once')
})

// Killed from outside just as it is taken (the OOM killer, an operator's kill), a warm child has not
// run the job: the pool hears of the death only later, and the spawn runs on a fresh process instead.
void test('pool: a warm child killed just as a spawn takes it is replaced by a fresh process, and the spawn succeeds', async (t) => {
  const ctx = await contextFor(t, { pool: { size: 2 } })
  for (let round = 0; round < 3; round++) {
    const warm = await warmPids(ctx)
    for (const pid of warm) process.kill(pid, 'SIGKILL')
    const children = [0, 1].map(() => ctx.spawn(() => process.pid))
    const pids = await Promise.all(children.map((child) => child.wait()))
    for (const pid of pids) assert.ok(!warm.has(pid), 'the job ran on a fresh process')
    assert.deepEqual(
      children.map((child) => child.pid),
      pids,
    )
  }
})

void test('pool: a spawn with its own env, Node flags or a thread starts a fresh child; map takes warm ones', async (t) => {
  const ctx = await contextFor(t, { pool: { size: 2 } })
  const warm = await warmPids(ctx)
  const own = (await ctx
    .spawn(() => [process.pid, process.env['ZSTATE_EXTRA']], { env: { ZSTATE_EXTRA: 'x' } })
    .wait()) as [number, string]
  assert.equal(own[1], 'x')
  assert.ok(!warm.has(own[0]))
  const flags = await ctx.spawn(() => process.pid, { execArgv: ['--no-warnings'] }).wait()
  assert.ok(!warm.has(flags))
  const thread = await ctx.spawn(() => process.pid, { thread: true }).wait()
  assert.equal(thread, process.pid)
  assert.deepEqual(new Set(poolOf(ctx).pids), warm, 'the warm children are still there')
  const pids = await ctx.map(() => process.pid, [1, 2, 3, 4], { concurrency: 2 })
  for (const pid of new Set(pids)) assert.ok(warm.has(pid), `map worker ${pid} was warm`)
})

void test('pool: idle children go after idleTimeout, and closing the context lets the rest go', async (t) => {
  const idle = await contextFor(t, { pool: { size: 2, idleTimeout: 50 } })
  // Every child the pool starts (a fork per turn of the loop): each goes 50 ms after it has loaded.
  await until(() => poolOf(idle).pids.length === 2, 'the pool started 2 children', 30_000, 1)
  const first = poolOf(idle).pids
  await allGone(first)
  await until(() => poolOf(idle).pids.length === 0, 'the pool is empty')
  // A spawn still works, from a fresh process, and brings the pool back. Watched from before the
  // spawn, every 5 ms: the refill's children may load and go idle (50 ms) before the spawn is done.
  const refilled = until(() => poolOf(idle).pids.length > 0, 'the pool starts filling again', 30_000, 5)
  refilled.catch(() => {}) // awaited below; not unhandled if the spawn fails first
  assert.equal(await idle.spawn(() => 7).wait(), 7)
  await refilled

  const ctx = await contextFor(t, { pool: { size: 2 } })
  const warm = [...(await warmPids(ctx))]
  await ctx.close()
  await allGone(warm)
})

void test('pool: warm children die with a SIGKILLed parent, as a running pooled child does', async (t) => {
  assertDistBuilt()
  const parent = spawnProcess(process.execPath, [fileURLToPath(fixtureUrl('pool-parent.mjs'))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.after(() => {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL')
  })
  let out = ''
  const line = await new Promise<string>((resolve, reject) => {
    parent.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
    })
    parent.once('exit', (code) => reject(new Error(`the parent exited (${code}) before it was ready`)))
  })
  const report = JSON.parse(line) as { warm: number[]; running: number; refilled: number[]; server: number }
  assert.equal(report.warm.length, 3)
  assert.ok(report.warm.includes(report.running), 'the running child came from the pool')
  assert.equal(report.refilled.length, 3)
  parent.kill('SIGKILL')
  // The warm children, the pooled one that runs, the replacements and the server.
  await allGone([...report.warm, ...report.refilled, report.server])
})

void test('pool: bad pool options are refused with ERR_INVALID_ARGUMENT', async () => {
  const { createContext } = await import('../lib/index.ts')
  await assert.rejects(createContext({ pool: { size: 0 } }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /pool\.size/,
  })
  await assert.rejects(createContext({ pool: { sise: 2 } as never }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /unknown option 'sise'/,
  })
  await assert.rejects(createContext({ pool: { idleTimeout: -1 } }), { code: 'ERR_INVALID_ARGUMENT' })
})

void test('pool: fills a few children at a time, one fork per turn of the loop, not all at once', async (t) => {
  const ctx = await contextFor(t, { pool: { size: 6 } })
  // Sampled every turn of the event loop until full: a fill that forked every child in one go would
  // show at most two counts (none, then all six).
  const counts = new Set<number>()
  await until(
    () => {
      counts.add(poolOf(ctx).pids.length)
      return poolOf(ctx).pids.length === 6
    },
    'the pool holds 6 children',
    60_000,
    0,
  )
  assert.ok(counts.size >= 3, `counts seen while filling: ${[...counts].join(', ')}`)
  await poolOf(ctx).ready()
  assert.equal(poolOf(ctx).pids.length, 6)
})
