// What a hand-written client sends for others to read (docs/security.md): writes shaped so that
// replicas would follow them differently from the server are refused whole, and every replica stays
// equal to a fresh one; a provider's result that callers would read as something else never
// reaches them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Dealer } from 'zeromq'
import { connect } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { ChangeKind, Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { fromParts } from '../lib/protocol/parts.ts'
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

test('hostile: a provider’s result outside the value model reaches its caller as ERR_PROTOCOL, not as something else', async (t) => {
  const server = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc') })])
  const { address } = (await server.event(1)) as { address: string }
  const provider = new Dealer({ linger: 0 })
  t.after(() => provider.close())
  provider.connect(address)
  const send = (request: unknown[]): Promise<void> => provider.send(encode([request]))
  await send([1, Op.HELLO, PROTOCOL_VERSION, 'bbbbbbbbbbbbbbbb', 1, 'raw provider'])
  await send([2, Op.PROVIDE, 'svc', ['f'], 16, 1])
  // The calls pushed to it, by call id, as they come.
  const pushed: number[] = []
  let wake: (() => void) | undefined
  void (async () => {
    for await (const frames of provider)
      for (const entry of decode(fromParts(frames, 0)!) as unknown[][])
        if (entry[0] === 0 && entry[1] === 1) {
          pushed.push(entry[2] as number)
          wake?.()
        }
  })().catch(() => {})
  const nextCall = async (): Promise<number> => {
    while (pushed.length === 0) await new Promise<void>((resolve) => (wake = resolve))
    return pushed.shift()!
  }
  const caller = await connect(address, { name: 'caller' })
  t.after(() => caller.close())
  await caller.waitForService('svc', { timeout: 10_000 })
  // A map key "__proto__" (which decoders read as "__proto_"), and a string that is not UTF-8.
  const proto = encode(JSON.parse('{"__proto__":1}'))
  const notUtf8 = Buffer.from([0xa2, 0xff, 0xfe])
  for (const result of [proto, notUtf8]) {
    const call = caller.call('svc', 'f', [])
    const callId = await nextCall()
    const head = encode([0, Op.RESULT, callId, Status.OK, 0]).subarray(0, -1)
    await provider.send(Buffer.concat([Buffer.from([0x91]), head, result]))
    await assert.rejects(call, { code: 'ERR_PROTOCOL', message: /the provider sent a malformed result/ })
  }
  // A result in the value model still arrives as sent.
  const call = caller.call('svc', 'f', [])
  await send([0, Op.RESULT, await nextCall(), Status.OK, { ok: ['✓'] }])
  assert.deepEqual(await call, { ok: ['✓'] })
})
