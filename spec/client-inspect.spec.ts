import assert from 'node:assert/strict'
import { test } from 'node:test'
import { inspect } from 'node:util'
import { connect } from '../lib/index.ts'
import { serverFor } from './support.ts'

// On one line whatever the address's length, as console.log prints it on a wide terminal.
const show = (value: unknown): string => inspect(value, { breakLength: Infinity })

test('inspect: a client shows its address, status, revision and key count; a state its revision, size and scope', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await connect(server.address)
  t.after(() => client.close())
  await client.state.update({ a: 1, b: 2 })
  await client.state.set('c', 3)
  assert.equal(
    show(client),
    `Client { address: '${server.address}', status: 'connected', revision: 2, keys: 3 }`,
  )
  assert.equal(show(client.state), "State { revision: 2, size: 3, scope: '' }")
  assert.equal(show(client.state.scope('b')), "State { revision: 2, size: 1, scope: 'b' }")
  // Nested deeper than inspect's depth, they shrink to their names, like any object.
  assert.equal(
    inspect({ a: { client, state: client.state } }, { depth: 1 }),
    '{ a: { client: [Client], state: [State] } }',
  )
  await client.close()
  assert.match(show(client), /^Client \{ address: .*, status: 'closed', revision: 2, keys: 3 \}$/)
})
