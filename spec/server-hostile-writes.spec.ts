// Writes a hand-written client shapes so that replicas would follow them differently from the server
// (docs/security.md): refused whole, and every replica, full or partial, stays equal to a fresh one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect } from '../lib/index.ts'
import { ChangeKind, Status } from '../lib/protocol/ops.ts'
import { rawSession } from './raw-session.ts'
import { addressFor, fixture } from './support.ts'

test('hostile: a transaction that writes one key twice is refused whole; every replica stays the server’s', async (t) => {
  const server = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc') })])
  const { address } = (await server.event(1)) as { address: string }
  const victim = await connect(address, { name: 'victim' })
  t.after(() => victim.close())
  const partial = await connect(address, { name: 'partial', replicate: ['cfg'] })
  t.after(() => partial.close())
  await victim.state.set('cfg', { owner: 'victim', x: 1 })
  const raw = await rawSession(t, address, undefined, 'cfg')
  const addZ: unknown[] = [[1, ['z'], 3]]
  const twice: unknown[][][] = [
    [
      ['cfg', ChangeKind.DELETE],
      ['cfg', ChangeKind.PATCH, addZ],
    ],
    [
      ['cfg', ChangeKind.SET, { owner: 'attacker' }],
      ['cfg', ChangeKind.PATCH, addZ],
    ],
    [
      ['cfg', ChangeKind.PATCH, [[1, ['a'], 1]]],
      ['cfg', ChangeKind.PATCH, addZ],
    ],
    [
      ['cfg', ChangeKind.SET, 1],
      ['cfg', ChangeKind.SET, 2],
    ],
  ]
  let id = 10
  for (const writes of twice) {
    const base = (await victim.server()).revision
    await raw.send([++id, 15, raw.epoch, base, [], false, writes])
    const [, status, code, message] = await raw.reply(id)
    assert.deepEqual([status, code], [Status.ERROR, 'ERR_PROTOCOL'], `refused: ${JSON.stringify(writes)}`)
    assert.match(String(message), /its writes name "cfg" more than once/)
  }
  // The same keys once each still commit.
  const base = (await victim.server()).revision
  await raw.send([++id, 15, raw.epoch, base, [], false, [['cfg', ChangeKind.PATCH, addZ]]])
  await victim.state.set('sentinel', 1)
  await partial.state.sync()
  await victim.state.sync()
  const fresh = await connect(address, { name: 'fresh' })
  t.after(() => fresh.close())
  assert.deepEqual(fresh.state.get('cfg'), { owner: 'victim', x: 1, z: 3 })
  assert.deepEqual(victim.state.get('cfg'), fresh.state.get('cfg'))
  assert.deepEqual(partial.state.get('cfg'), fresh.state.get('cfg'))
  assert.equal(victim.state.revision, fresh.state.revision)
})
