// Contexts and their children across a state server's restart on its data dir.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import type { WorkerContext } from '../lib/index.ts'
import { contextFor, failure } from './process-support.ts'
import { fixture, tempDir } from './support.ts'

// From an outside audit: children that were joining as their server was killed and restarted
// failed (5–11 of 40) with the wire's "send HELLO first", or waited 30 s for the reply to a HELLO
// that went with the old server. Each now joins the restarted server and runs.
void test('process: children that join while their server restarts join it after the restart and run', async (t) => {
  const dir = tempDir(t)
  const options = JSON.stringify({ address: `ipc://${join(dir, 'state')}`, dataDir: join(dir, 'data') })
  const first = fixture(t, 'server', [options])
  const { address } = (await first.event(1)) as { address: string }
  const ctx = await contextFor(t, { address })
  await ctx.state.set('kept', 'through the restart')
  // A state that takes each child a while to join (a snapshot of 5 MB), so that most are joining
  // as the server goes.
  const filler = 'x'.repeat(1000)
  await Promise.all(Array.from({ length: 5000 }, (_, i) => ctx.state.set(`filler${i}`, filler)))
  const count = 8
  const children = ctx.spawn(async (c: WorkerContext) => c.state.get('kept'), { count })
  // The first child is done: the others are starting, or joining.
  await Promise.race(children.map((child) => child.wait()))
  first.child.kill('SIGKILL')
  await fixture(t, 'server', [options]).event(1)
  assert.deepEqual(await ctx.wait({ timeout: 60_000 }), Array(count).fill('through the restart'))
})

// Its server's data dir keeps what it made durable: the context says so as it closes, rather than
// that the state is gone.
void test('process: a context whose own server with a data dir is killed says the data dir keeps its state', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const ctx = await contextFor(t, { server: { dataDir } })
  await ctx.state.set('kept', true)
  const { pid } = await ctx.server()
  process.kill(pid, 'SIGKILL')
  const closedWith = await ctx.closed
  const said = `the context's state server (pid ${pid}) was killed by SIGKILL: its data dir (${dataDir}) keeps what it had made durable, for the next server there, so the context closed`
  assert.equal(closedWith?.message, said)
  assert.equal((await failure(ctx.state.set('after', 1))).message, said)
  const next = await contextFor(t, { server: { dataDir } })
  assert.equal(next.state.get('kept'), true)
})
