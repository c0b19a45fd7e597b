// A parent that spawns without end and awaits each handle keeps every handle in ctx.children until
// its next ctx.wait() (docs/processes.md): a finished one must keep little more than its outcome. It
// kept its last attempt and what attempts are made of (target, arguments, options): 13-19 KB of heap
// per child that returned a number, or all of its arguments, however large.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { contextFor, until } from './process-support.ts'
import type { Context } from '../lib/index.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// Made in a function of its own: a suspended async frame would keep the argument alive itself.
async function spawnWithArgument(ctx: Context, thread: boolean) {
  const argument = { payload: 'x'.repeat(1 << 20) }
  const held = new WeakRef(argument)
  const handle = ctx.spawn(async (_ctx, a: { payload: string }) => a.payload.length, {
    args: [argument],
    thread,
  })
  assert.equal(await handle.wait(), 1 << 20)
  return { handle, held }
}

for (const thread of [false, true]) {
  test(`process: a finished child’s handle keeps its pid and result, not its arguments (${thread ? 'thread' : 'process'})`, async (t) => {
    const ctx = await contextFor(t)
    const { handle, held } = await spawnWithArgument(ctx, thread)
    assert.deepEqual(ctx.children, [handle])
    // A WeakRef keeps its target until the turn ends: each check collects in a turn of its own.
    await until(() => {
      gc()
      return held.deref() === undefined
    }, 'the argument is collected while the handle stays in ctx.children')

    assert.equal(handle.status, 'exited')
    assert.equal(await handle.wait(), 1 << 20)
    assert.ok(typeof handle.pid === 'number' && handle.pid > 0)
    await assert.rejects(handle.stats(), { code: 'ERR_CLOSED', message: new RegExp(`pid ${handle.pid}`) })
    assert.deepEqual(await ctx.wait(), [1 << 20])
  })
}
