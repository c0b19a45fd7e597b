import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { getEventListeners } from 'node:events'
import { after, before, test } from 'node:test'
import { connect, type ProcessTable } from '../lib/index.ts'
import { processTable } from '../lib/process/table.ts'
import { serverStats } from '../lib/client/server-stats.ts'
import { unlessAborted } from '../lib/cli/signals.ts'
import { CliProcess, assertBuilt, cliEnv, killAll, zstate } from './fixtures/cli-run.ts'
import { alive, contextFor, fixtureUrl, marks, until } from './process-support.ts'
import { fixture, tempDir } from './support.ts'

before(assertBuilt)
after(killAll)

type Frame = ProcessTable & { server: { version: string; epoch: string }; address: string }

void test('process: zstate top --once --json lists clients and every context’s processes with CPU and memory', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t, { name: 'top spec' })
  const spinner = ctx.spawn(fixtureUrl('worker-busy.mjs'), { args: ['busy'], name: 'busy one' })
  const idle = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['idle'], name: 'idle one' })
  const thread = ctx.spawn(fixtureUrl('worker-idle.mjs'), {
    args: ['thread'],
    name: 'a thread',
    thread: true,
  })
  await ctx.state.when((state) => ['busy', 'idle', 'thread'].every((name) => state.has(`pid:${name}`)))
  for (let i = 0; i < 5; i++) await ctx.state.increment('commits')

  const result = await zstate(['top', '--once', '--json', '--address', ctx.address])
  assert.equal(result.code, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  assert.equal(lines.length, 1, 'one frame')
  const frame = JSON.parse(lines[0]!) as Frame
  assert.equal(frame.address, ctx.address)
  assert.equal(frame.server.pid, (await ctx.server()).pid)
  assert.ok((frame.server.memory ?? 0) > 0)
  assert.equal(frame.revision, ctx.state.revision)
  assert.ok(frame.commitsPerSecond >= 0)
  const clients = frame.clients.map((client) => client.name)
  for (const name of ['top spec', 'busy one', 'idle one', 'a thread', 'zstate top'])
    assert.ok(clients.includes(name), `${name} in ${clients.join(', ')}`)

  const context = frame.contexts.find((row) => row.name === 'top spec')
  assert.ok(context !== undefined)
  assert.equal(context.pid, process.pid)
  assert.equal(context.local, true)
  const rows = new Map(context.children.map((row) => [row.name, row]))
  assert.equal(rows.get('busy one')?.pid, ctx.state.get('pid:busy'))
  assert.equal(rows.get('idle one')?.pid, ctx.state.get('pid:idle'))
  assert.equal(rows.get('a thread')?.pid, process.pid)
  assert.equal(typeof rows.get('a thread')?.threadId, 'number')
  for (const row of rows.values()) {
    assert.equal(row.status, 'running')
    assert.equal(row.attempts, 1)
    assert.equal(typeof row.cpu, 'number')
    assert.ok((row.memory ?? 0) > 1 << 20)
  }
  assert.equal(context.status, 'running')
  // The spinner's CPU, averaged since it started, is well above the idle child's.
  assert.ok(rows.get('busy one')!.cpu! > rows.get('idle one')!.cpu!)

  await spinner.kill()
  await ctx.state.set('release', true)
  await Promise.all([idle.wait(), thread.wait()])
  const later = JSON.parse(
    (await zstate(['top', '--once', '--json', '--address', ctx.address])).stdout,
  ) as Frame
  assert.deepEqual(later.contexts.find((row) => row.name === 'top spec')?.children, [])
})

void test('process: zstate top --once prints a readable table; live, it refreshes until interrupted', async (t) => {
  const ctx = await contextFor(t, { name: 'table spec' })
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['one'], name: 'the child' })
  await ctx.state.whenAvailable('pid:one')
  // A name any client chooses reaches the operator's terminal: its control characters as escapes.
  const hostile = await connect(ctx.address, { name: 'evil\u001b[31mRED\u001b[0m\nNEWLINE' })
  t.after(() => hostile.close())
  const once = await zstate(['top', '--once', '--address', ctx.address])
  assert.equal(once.code, 0, once.stderr)
  assert.match(once.stdout, /^zstate top {2}ipc:\/\//)
  assert.match(once.stdout, /commits\/s/)
  assert.match(once.stdout, /CLIENTS \d+/)
  assert.match(once.stdout, new RegExp(`^  ${process.pid} +table spec +context `, 'm'))
  assert.match(once.stdout, new RegExp(`^  ${String(ctx.state.get('pid:one'))} +└ the child +running `, 'm'))
  assert.ok(!once.stdout.includes('\u001b['), 'no escapes when stdout is not a terminal')
  assert.match(once.stdout, /^ {2}\d+ +evil\\u001b\[31mRED\\u001b\[0m\\nNEWLINE$/m)

  const live = new CliProcess(['top', '--address', ctx.address], cliEnv())
  await live.waitFor('stdout', (text) => text.split('zstate top').length > 2)
  // It reads no key: it joined without a replica (a full one of a store of a million keys took 5 s).
  assert.equal((await serverStats(hostile)).sessions.partial, 1)
  const exit = await live.signal('SIGINT')
  assert.equal(exit.code, 0)
  await ctx.state.set('release', true)
  await child.wait()
})

void test('process: zstate top lists map workers that joined no session as running, their context vouching for them', async (t) => {
  // 250 ms heartbeats: a process the server does not hear from is silent after 1 s.
  const ctx = await contextFor(t, { name: 'unjoined spec', server: { heartbeatMs: 250 } })
  const dir = tempDir(t)
  // Its target never reads its ctx: the workers run without a client of their own.
  const mapping = ctx.map(fixtureUrl('worker-held.mjs'), [dir, dir], { concurrency: 2 })
  await until(() => marks(dir, 'started-') === 2, 'both workers run an item')
  const since = Date.now()
  const workers = (table: ProcessTable) =>
    table.contexts.flatMap((c) => c.children).filter((child) => child.name.startsWith('worker-held.map'))
  let tables = 0
  // Tables for twice the silence: each lists both, running (silence is derived from elapsed time).
  await until(async () => {
    assert.deepEqual(
      workers(await processTable(ctx)).map((child) => child.status),
      ['running', 'running'],
    )
    tables++
    return Date.now() - since > 2_000
  }, 'two seconds of tables')
  assert.ok(tables >= 5, `${tables} tables`)
  writeFileSync(join(dir, 'release'), '')
  await mapping
})

void test('process: zstate top shows a process that went silent (stopped, or its event loop blocked) as silent', async (t) => {
  // 1 s heartbeats: silent after 4 s, forgotten after 10 s; the nest context is checked in between.
  const ctx = await contextFor<Record<string, unknown>>(t, {
    name: 'silence spec',
    server: { heartbeatMs: 1000 },
  })
  const sleeper = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['sleeper'], name: 'sleeper' })
  // Spawns a spinning child of its own, whose event loop never turns again: it sends no heartbeat.
  const nest = ctx.spawn(fixtureUrl('worker-nest.mjs'), { args: ['nest'], name: 'nest' })
  const view = await ctx.state.when((state) =>
    ['sleeper', 'nest', 'nest.spin'].every((name) => state.has(`pid:${name}`)),
  )
  const [sleeperPid, nestPid] = [view['pid:sleeper'] as number, view['pid:nest'] as number]
  const status = (table: ProcessTable, pid: unknown) =>
    table.contexts.flatMap((c) => c.children).find((child) => child.pid === pid)?.status
  const pids = [sleeperPid, nestPid, view['pid:nest.spin']]
  // Asks for tables until one satisfies `predicate`: silence is derived from elapsed time, so no event
  // announces it.
  const tableWhen = async (what: string, predicate: (table: ProcessTable) => boolean) => {
    let table: ProcessTable | undefined
    await until(async () => predicate((table = await processTable(ctx))), what)
    return table!
  }
  assert.equal(status(await processTable(ctx), sleeperPid), 'running')

  // A stopped process sends nothing, nor does one whose event loop is blocked.
  process.kill(sleeperPid, 'SIGSTOP')
  process.kill(nestPid, 'SIGSTOP')
  t.after(() => {
    for (const pid of [sleeperPid, nestPid]) if (alive(pid)) process.kill(pid, 'SIGCONT')
  })
  const silent = await tableWhen('the stopped and the blocked children are silent', (table) =>
    pids.every((pid) => status(table, pid) === 'silent'),
  )
  // The context the stopped child owns is silent too; this test's own is not.
  assert.equal(silent.contexts.find((c) => c.name === 'silence spec')?.status, 'running')
  assert.equal(silent.contexts.find((c) => c.name === 'nest')?.status, 'silent')
  const once = await zstate(['top', '--once', '--address', ctx.address])
  assert.equal(once.code, 0, once.stderr)
  assert.match(once.stdout, new RegExp(`^  ${sleeperPid} +[├└] sleeper +silent `, 'm'))

  // Resumed, it is heard from again.
  process.kill(sleeperPid, 'SIGCONT')
  await tableWhen('the resumed child runs again', (table) => status(table, sleeperPid) === 'running')
  process.kill(nestPid, 'SIGCONT')
  await ctx.state.set('release', true)
  assert.deepEqual(await Promise.all([sleeper.wait(), nest.wait()]), ['sleeper', 'nest'])
})

// The server forgets a session's contexts when the session ends: a context whose client joins a new
// session (here, a server restarted on the same address) registers again, with its live children.
void test('process: after a reconnection, a context and its live children are listed again', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const first = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 100 })])
  await first.event(1)
  const ctx = await contextFor<Record<string, unknown>>(t, { address, name: 'relisted spec' })
  const kept = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['kept'], name: 'kept child' })
  assert.equal(await ctx.spawn(async () => 'done', { name: 'done child' }).wait(), 'done')
  const keptPid = await ctx.state.whenAvailable('pid:kept')
  const listed = async (): Promise<string | undefined> => {
    const row = (await processTable(ctx)).contexts.find((context) => context.name === 'relisted spec')
    return row && JSON.stringify(row.children.map((child) => [child.name, child.pid, child.status]))
  }
  const expected = JSON.stringify([['kept child', keptPid, 'running']])
  await until(async () => (await listed()) === expected, 'the context is listed with its running child')

  const events = ctx.status()[Symbol.asyncIterator]()
  first.child.kill('SIGKILL')
  assert.equal((await events.next()).value?.type, 'disconnected')
  await fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 100 })]).event(1)
  assert.equal((await events.next()).value?.type, 'reset')
  await until(
    async () => (await listed()) === expected,
    'the context is listed again, with its live child only',
  )

  await ctx.state.set('release', true)
  assert.equal(await kept.wait(), 'kept')
  await until(async () => (await listed()) === '[]', 'the child that ended is no longer listed')
})

// Live top waits on its interruption signal once a frame: a listener left behind each time made
// Node warn of a leak after 11 frames, and grew for as long as top ran.
void test('process: a wait on top’s interruption signal leaves no listener behind', async () => {
  const interrupted = new AbortController()
  for (let frame = 0; frame < 20; frame++) await unlessAborted(Promise.resolve(frame), interrupted.signal)
  assert.equal(getEventListeners(interrupted.signal, 'abort').length, 0)
  const pending = unlessAborted(new Promise(() => {}), interrupted.signal)
  interrupted.abort()
  assert.equal(await pending, undefined, 'the abort still ends a wait')
})

// Each viewer measures CPU from its own last look: another's (a dashboard, another top) must not
// reset it. The first frame of a fresh `top --once` is CPU since the process started.
void test('process: zstate top --once shows CPU since start, whatever another viewer looked at just before', async (t) => {
  const ctx = await contextFor(t, { name: 'viewers spec' })
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['quiet'], name: 'quiet child' })
  await ctx.state.whenAvailable('pid:quiet')
  const childCpu = (table: ProcessTable): number | null | undefined =>
    table.contexts
      .find((row) => row.name === 'viewers spec')
      ?.children.find((row) => row.name === 'quiet child')?.cpu
  // Another viewer looks twice, the second time just before top: an idle child, near 0 % since its first look.
  await processTable(ctx)
  await processTable(ctx)
  const once = await zstate(['top', '--once', '--json', '--address', ctx.address])
  assert.equal(once.code, 0, once.stderr)
  // Starting a Node child takes tens of ms of CPU: over its few seconds of age, well above 1 %.
  const sinceStart = childCpu(JSON.parse(once.stdout) as ProcessTable)
  assert.ok(typeof sinceStart === 'number' && sinceStart > 1, `top --once: ${sinceStart} %`)
  await ctx.state.set('release', true)
  await child.wait()
})
