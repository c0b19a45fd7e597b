// A context child's session ends as soon as its parent has seen it exit, however it ended (stopped,
// killed, process.exit, a thread terminated): its ephemeral keys go then, not after the silence that
// expires a session (API.md, "Ephemeral keys": "or when the server learns its process died"). The
// parent names the child by a secret token the child's HELLO gave; no one else can end that session.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import type { ChildHandle, WorkerContext } from '../lib/index.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { contextFor } from './process-support.ts'
import { rawPeer } from './raw-peer.ts'
import { clientFor, serverFor } from './support.ts'

// A long heartbeat: sessions expire after 10 of them (20 s), so a deletion well within that bound
// came from the child's end, not from its silence.
const HEARTBEAT_MS = 2_000
const WITHIN_MS = 8_000

type S = Record<string, unknown>

// Sets an ephemeral key named after how it will end, then waits for that end.
async function holdEphemeral(ctx: WorkerContext<S>, key: string, exitCode?: number): Promise<void> {
  await ctx.state.set(key, process.pid, { ephemeral: true })
  if (exitCode !== undefined) process.exit(exitCode)
  await new Promise(() => {})
}

const ENDINGS: { how: string; thread: boolean; end?: (child: ChildHandle) => Promise<void> }[] = [
  { how: 'stop', thread: false, end: (child) => child.stop({ grace: 200 }) },
  { how: 'SIGKILL', thread: false, end: (child) => child.kill('SIGKILL') },
  { how: 'exit', thread: false },
  { how: 'thread-stop', thread: true, end: (child) => child.stop({ grace: 200 }) },
  { how: 'thread-kill', thread: true, end: (child) => child.kill('SIGKILL') },
]

void test('child sessions: a child’s ephemeral keys go as soon as it has exited, however it ended', async (t) => {
  const server = await serverFor(t, 'ipc', { heartbeatMs: HEARTBEAT_MS })
  const ctx = await contextFor<S>(t, { address: server.address })
  const observer = await clientFor(server)
  await ctx.state.set('parent', 'alive', { ephemeral: true })
  for (const { how, thread, end } of ENDINGS) {
    const key = `eph:${how}`
    const child = ctx.spawn(holdEphemeral, {
      args: how === 'exit' ? [key, 3] : [key],
      thread,
      name: how,
    })
    const outcome = child.wait().then(
      () => 'returned',
      (error: unknown) => (error as Error).message,
    )
    await observer.state.whenAvailable(key, { timeout: WITHIN_MS })
    await end?.(child)
    assert.notEqual(await outcome, 'returned', `${how}: the child did not return`)
    await observer.state.whenDeleted(key, { timeout: WITHIN_MS }).catch((error: unknown) => {
      throw new Error(`${how}: the key outlived its child by ${WITHIN_MS} ms`, { cause: error })
    })
  }
  await observer.state.sync()
  assert.equal(observer.state.get('parent'), 'alive', 'the context’s own session is untouched')
})

void test('child sessions: only the token’s holders can end a session; a malformed token is refused', async (t) => {
  const server = await serverFor(t, 'ipc', { heartbeatMs: HEARTBEAT_MS })
  const observer = await clientFor(server)
  const token = randomBytes(16).toString('hex')
  // The victim: a raw session that named `token` in its HELLO and holds an ephemeral key.
  const victim = await rawPeer(t, server.address)
  // A HELLO again on the same connection keeps the session and gives it the child token.
  const hello = (peer: typeof victim, childToken: unknown) =>
    peer.request(
      Op.HELLO,
      PROTOCOL_VERSION,
      randomBytes(8).toString('hex'),
      process.pid,
      'raw',
      null,
      null,
      childToken,
    )
  assert.equal((await hello(victim, token))[1], Status.OK)
  assert.equal((await victim.request(Op.SET, 'victim', 1, true, 0))[1], Status.OK)
  await observer.state.whenAvailable('victim')

  const attacker = await rawPeer(t, server.address)
  // Other tokens, and tokens that are not 32 to 64 hex digits, end nothing.
  for (const guess of [randomBytes(16).toString('hex'), token.slice(0, 31), token.toUpperCase(), 7, null]) {
    const [, status, code] = await attacker.request(Op.CHILD_GONE, guess)
    if (typeof guess === 'string' && /^[0-9a-f]{32,64}$/.test(guess)) assert.equal(status, Status.OK)
    else assert.deepEqual([status, code], [Status.ERROR, 'ERR_PROTOCOL'], `token ${String(guess)}`)
  }
  const [, status, code] = await hello(attacker, 'not hex')
  assert.deepEqual([status, code], [Status.ERROR, 'ERR_PROTOCOL'], 'a HELLO with a malformed token')
  await observer.state.set('fence', 1)
  assert.equal(observer.state.get('victim'), 1, 'no guess ended the victim’s session')

  // The holder of the token ends it: the key goes, and the victim must HELLO again.
  const parent = await rawPeer(t, server.address)
  assert.equal((await parent.request(Op.CHILD_GONE, token))[1], Status.OK)
  await observer.state.whenDeleted('victim', { timeout: WITHIN_MS })
  const [, after, afterCode] = await victim.request(Op.SYNC)
  assert.deepEqual([after, afterCode], [Status.ERROR, 'ERR_DISCONNECTED'], 'the victim’s session ended')
})
