// Every write takes timeout and signal (docs/state.md, Writes), as every request-making call does:
// they bound its wait; an aborted signal sends nothing; a write that timed out may still commit.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect, type State } from '../lib/index.ts'
import { addressFor, clientFor, fixture, serverFor } from './support.ts'

type Write = (state: State, options: object) => Promise<unknown>

// Each write with `options` last.
const writes: Record<string, Write> = {
  set: (state, options) => state.set('k', 1, options),
  delete: (state, options) => state.delete('k', options),
  update: (state, options) => state.update({ k: 2 }, options),
  clear: (state, options) => state.clear(options),
  increment: (state, options) => state.increment('n', 1, options),
  compareAndSet: (state, options) => state.compareAndSet('k', undefined, 3, options),
}

test('writes: an aborted signal rejects with its reason and sends nothing; options are checked', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  await state.set('k', 0)
  const revision = state.revision
  const reason = new Error('not now')
  for (const [name, write] of Object.entries(writes)) {
    await assert.rejects(
      write(state, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
      name,
    )
    await assert.rejects(write(state, { timeout: -1 }), { code: 'ERR_INVALID_ARGUMENT' }, name)
    await assert.rejects(
      write(state, { tiemout: 5 }),
      { code: 'ERR_INVALID_ARGUMENT', message: /tiemout/ },
      name,
    )
  }
  await assert.rejects(state.update({ k: 1 }, { ttl: 5 } as never), { message: /unknown option 'ttl'/ })
  await assert.rejects(state.clear('jobs/' as never), { message: /state\.scope\(prefix\)\.clear\(\)/ })
  assert.equal(await state.sync(), revision, 'nothing was sent')
  // With a signal that is not aborted and a timeout that does not run out, each commits as usual.
  for (const [name, write] of Object.entries(writes))
    await write(state, { timeout: 30_000, signal: new AbortController().signal }).catch((error: Error) =>
      assert.fail(`${name}: ${error.message}`),
    )
  assert.equal(state.get('n'), 1)
})

test('writes: a write not visible within its timeout rejects with ERR_TIMEOUT; its outcome is unknown', async (t) => {
  const server = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc') })])
  const { address } = (await server.event(1)) as { address: string }
  const client = await connect(address)
  t.after(() => client.close())
  // The server stopped: nothing it is sent is answered until it goes on.
  server.child.kill('SIGSTOP')
  let stopped = true
  t.after(() => {
    if (stopped) server.child.kill('SIGCONT')
  })
  await assert.rejects(client.state.set('late', 1, { timeout: 100 }), {
    code: 'ERR_TIMEOUT',
    message: /set\(\)/,
  })
  server.child.kill('SIGCONT')
  stopped = false
  // It was sent: once the server goes on, it commits.
  assert.equal(await client.state.whenAvailable('late', { timeout: 30_000 }), 1)
})
