// Values the server makes are bounded as a client's request is: a transaction's patches, each under
// maxMessageBytes, grew one value (from an outside audit) to 12 times it, a value no client could set
// again, whose every patch then held the server for seconds; an action could do the same.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isZStateError } from '../lib/index.ts'
import { encode } from '../lib/protocol/codec.ts'
import { maxValueBytes } from '../lib/server/value-size.ts'
import { clientFor, serverFor } from './support.ts'

const MAX_MESSAGE_BYTES = 64 * 1024
const LIMIT = maxValueBytes(MAX_MESSAGE_BYTES)
const PART = 'x'.repeat(20_000)

const tooLarge = (error: unknown): boolean =>
  isZStateError(error) && error.code === 'ERR_TOO_LARGE' && /nothing of the write applied/.test(error.message)

test('value size: patches that would grow a value past what a request carries are refused, nothing applied', async (t) => {
  const server = await serverFor(t, 'ipc', { maxMessageBytes: MAX_MESSAGE_BYTES })
  const { state } = await clientFor<{ doc: Record<string, string>; other: number }>(server)
  await state.set('doc', {})
  let parts = 0
  for (;;) {
    try {
      await state.atomic((d) => {
        d.doc![`part${parts}`] = PART
        d.other = parts
      })
    } catch (error) {
      assert.ok(tooLarge(error), String(error))
      break
    }
    parts++
    assert.ok(parts < 10, 'refused before it grew past the limit')
  }
  assert.equal(parts, Math.floor((LIMIT - 1) / (PART.length + 10)))
  const doc = state.get('doc')!
  assert.equal(Object.keys(doc).length, parts)
  assert.equal(state.get('other'), parts - 1, 'nothing of the refused transaction applied')
  assert.ok(encode(doc).length <= LIMIT)
  // Every stored value can be written back by a client.
  await state.set('doc', { ...doc })
  assert.deepEqual(state.get('doc'), doc)
})

test('value size: an action whose write would grow a value past it is refused the same way', async (t) => {
  const server = await serverFor(t, 'ipc', {
    maxMessageBytes: MAX_MESSAGE_BYTES,
    actions: new URL('./fixtures/actions.mjs', import.meta.url),
  })
  const { state } = await clientFor<{ log: string }>(server)
  let appended = 0
  for (;;) {
    try {
      await state.run('append', 'log', PART)
    } catch (error) {
      assert.ok(tooLarge(error), String(error))
      break
    }
    appended++
    assert.ok(appended < 10, 'refused before it grew past the limit')
  }
  assert.equal(state.get('log')!.length, appended * PART.length)
  assert.ok(encode(state.get('log')).length <= LIMIT)
  await state.set('log', state.get('log')!)
})
