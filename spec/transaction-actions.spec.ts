import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isZStateError, RemoteError, startServer } from '../lib/index.ts'
import { clientFor, serverFor } from './support.ts'

const actions = new URL('./fixtures/actions.mjs', import.meta.url)
const code = (expected: string) => (e: unknown) => isZStateError(e) && e.code === expected

test('actions: run a named export atomically inside the server and return its result', async (t) => {
  const server = await serverFor(t, 'ipc', { actions: actions.href })
  const client = await clientFor(server)
  const { state } = client
  assert.equal(await state.run('increment', 'n'), 1)
  assert.equal(await state.run('increment', 'n', 41), 42)
  assert.equal(state.get('n'), 42, 'read-your-writes')
  await state.update({ a: 10, b: 0, doc: { tags: ['x'] } })
  assert.equal(await state.run('transfer', 'a', 'b', 4), null)
  assert.deepEqual([state.get('a'), state.get('b')], [6, 4])
  const before = client.metrics().bytesIn
  assert.equal(await state.run('tag', 'doc', 'y'), 2)
  assert.deepEqual(state.get('doc'), { tags: ['x', 'y'] })
  assert.ok(client.metrics().bytesIn - before < 200, 'the change came back as a patch')
})

test('actions: a throwing action changes nothing and rejects with RemoteError', async (t) => {
  const server = await serverFor(t, 'ipc', { actions })
  const client = await clientFor(server)
  const { state } = client
  await state.update({ a: 1, b: 0 })
  const revision = state.revision
  const error = await state.run('transfer', 'a', 'b', 5).catch((e: unknown) => e)
  assert.ok(error instanceof RemoteError)
  assert.equal(error.code, 'ERR_REMOTE')
  assert.equal(error.remoteName, 'RangeError')
  assert.equal(error.remoteCode, 'E_FUNDS')
  assert.equal(error.message, 'insufficient funds in a')
  assert.match(error.stack ?? '', /actions\.mjs/)
  await assert.rejects(state.run('fails'), /action failed on purpose/)
  await assert.rejects(state.run('slow'), code('ERR_INVALID_ARGUMENT'))
  await assert.rejects(state.run('nope'), code('ERR_INVALID_ARGUMENT'))
  await assert.rejects(
    state.run('increment', 'k', () => 1),
    code('ERR_UNENCODABLE'),
  )
  assert.equal(await state.sync(), revision, 'nothing was committed')
  assert.equal(state.has('slow'), false)
})

test('actions: a module that does not load makes startServer fail clearly', async () => {
  await assert.rejects(
    startServer({ actions: new URL('./fixtures/broken-actions.mjs', import.meta.url) }),
    (e: unknown) => {
      return isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT' && /cannot load actions/.test(e.message)
    },
  )
  // A missing file is named, and nothing of zstate's own files is.
  await assert.rejects(startServer({ actions: '/nonexistent/actions.mjs' }), {
    message: 'startServer: cannot load actions from file:///nonexistent/actions.mjs: no such file',
  })
})

test('actions: an action may return its draft; a thrown non-Error keeps its value', async (t) => {
  const server = await serverFor(t, 'ipc', { actions })
  const client = await clientFor(server)
  await client.state.set('doc', { title: 'a' })
  assert.deepEqual(await client.state.run('touch', 'doc'), { title: 'a', touched: true })
  assert.deepEqual(client.state.get('doc'), { title: 'a', touched: true })
  const error = await client.state.run('throwsString').catch((e: unknown) => e)
  assert.ok(error instanceof RemoteError)
  assert.equal(error.remoteName, 'NonError')
  assert.equal(error.value, 'plain string')
  const caused = (await client.state.run('throwsCaused').catch((e: unknown) => e)) as RemoteError
  assert.equal('value' in caused, false)
  const inner = caused.cause as RemoteError
  assert.ok(inner instanceof RemoteError, 'the cause comes back too')
  assert.deepEqual([inner.message, inner.remoteName], ['inner', 'RangeError'])
  await assert.rejects(startServer({ actions: 42 as unknown as string }), code('ERR_INVALID_ARGUMENT'))
})
