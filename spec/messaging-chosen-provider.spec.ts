// Calling one chosen provider (PyZMP addresses a node by name): services({ detail: true }) lists the
// providers with their ids, and call(…, { provider }) sends a call to that one only.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serverStats } from '../lib/client/server-stats.ts'
import { deferred } from '../lib/deferred.ts'
import { encode } from '../lib/protocol/codec.ts'
import { Op, Status } from '../lib/protocol/ops.ts'
import { until } from './process-support.ts'
import { rawPeer } from './raw-peer.ts'
import { rawSession } from './raw-session.ts'
import { clientFor, serverFor } from './support.ts'

test('messaging: services({ detail: true }) lists every provider; call({ provider }) reaches that one only', async (t) => {
  const server = await serverFor(t, 'ipc')
  const [a, b, caller] = await Promise.all(
    ['node-a', 'node-b', 'caller'].map((name) => clientFor(server, { name })),
  )
  const gate = deferred<void>()
  await a!.provide(
    'nodes',
    {
      whoami: () => 'a',
      hold: async () => {
        await gate.promise
        return 'a held'
      },
    },
    { concurrency: 1 },
  )
  await b!.provide('nodes', { whoami: () => 'b', only: () => 'b only' }, { concurrency: 4 })
  const [nodes] = await caller!.services({ detail: true })
  assert.equal(nodes!.name, 'nodes')
  assert.deepEqual(nodes!.methods, ['hold', 'only', 'whoami'])
  const byName = new Map(nodes!.providers.map((p) => [p.name, p]))
  assert.deepEqual([...byName.keys()].sort(), ['node-a', 'node-b'])
  for (const p of nodes!.providers) {
    assert.equal(p.pid, process.pid)
    assert.equal(p.inFlight, 0)
    assert.ok(Number.isSafeInteger(p.id) && p.id >= 1)
  }
  assert.equal(byName.get('node-a')!.concurrency, 1)
  assert.equal(byName.get('node-b')!.concurrency, 4)
  // The summary form is unchanged.
  assert.deepEqual(await caller!.services(), [
    { name: 'nodes', providers: 2, methods: ['hold', 'only', 'whoami'] },
  ])

  const idA = byName.get('node-a')!.id
  const idB = byName.get('node-b')!.id
  const calls = 20
  const answers = await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      caller!.call('nodes', 'whoami', [], { provider: i % 2 === 0 ? idA : idB }),
    ),
  )
  assert.deepEqual(
    answers,
    Array.from({ length: calls }, (_, i) => (i % 2 === 0 ? 'a' : 'b')),
  )
  assert.equal(await caller!.service<{ whoami(): string }>('nodes', { provider: idB }).whoami(), 'b')

  // A busy chosen provider: the call waits for its slot even though b is free.
  const held = caller!.call('nodes', 'hold', [], { provider: idA })
  await until(
    async () =>
      (await caller!.services({ detail: true }))[0]!.providers.some((p) => p.id === idA && p.inFlight === 1),
    'a holds a call',
  )
  const queued = caller!.call('nodes', 'whoami', [], { provider: idA })
  await until(async () => (await serverStats(caller)).services[0]?.queued === 1, 'the call for a waits')
  assert.equal(await caller!.call('nodes', 'whoami', [], { provider: idB }), 'b')
  gate.resolve()
  assert.equal(await held, 'a held')
  assert.equal(await queued, 'a')

  // A method the chosen provider does not offer, an unknown id, a bad option.
  await assert.rejects(caller!.call('nodes', 'only', [], { provider: idA }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: new RegExp(`provider ${idA} of 'nodes' has no method 'only'`),
  })
  await assert.rejects(caller!.call('nodes', 'whoami', [], { provider: 999_999 }), {
    code: 'ERR_NO_PROVIDER',
  })
  await assert.rejects(caller!.call('nodes', 'whoami', [], { provider: 'a' as never }), {
    code: 'ERR_INVALID_ARGUMENT',
  })
  await assert.rejects(caller!.call('nodes', 'whoami', [], { providr: idA } as never), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /unknown option 'providr'/,
  })
  await assert.rejects(caller!.services({ details: true } as never), { code: 'ERR_INVALID_ARGUMENT' })
})

test('messaging: a call waiting for its chosen provider fails with ERR_NO_PROVIDER when that provider goes', async (t) => {
  const server = await serverFor(t, 'ipc')
  const [a, b, caller] = await Promise.all([0, 1, 2].map(() => clientFor(server)))
  const gate = deferred<void>()
  const handle = await a!.provide('jobs', { hold: () => gate.promise.then(() => 'done') }, { concurrency: 1 })
  await b!.provide('jobs', { hold: () => 'b' })
  const [jobs] = await caller!.services({ detail: true })
  const idA = jobs!.providers.find((p) => p.concurrency === 1)!.id
  const running = caller!.call('jobs', 'hold', [], { provider: idA })
  await until(async () => (await serverStats(caller)).services[0]?.inFlight === 1, 'a runs a call')
  const waiting = caller!.call('jobs', 'hold', [], { provider: idA })
  await until(async () => (await serverStats(caller)).services[0]?.queued === 1, 'the next call for a waits')
  const closing = handle.close()
  await assert.rejects(waiting, { code: 'ERR_NO_PROVIDER', message: /chosen for jobs\.hold, went away/ })
  gate.resolve()
  assert.equal(await running, 'done')
  await closing
  // b never took a's call, and still answers.
  assert.equal(await caller!.call('jobs', 'hold'), 'b')
})

test('messaging: hand-made SERVICES and CALL requests with bad detail or provider are ERR_PROTOCOL', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  const services = await peer.request(Op.SERVICES, 'yes')
  assert.equal(services[1], Status.ERROR)
  assert.equal(services[2], 'ERR_PROTOCOL')
  const provider = await clientFor(server)
  await provider.provide('svc', { m: () => 1 })
  const call = await peer.request(Op.CALL, 'svc', 'm', [], 1000, 'first')
  assert.equal(call[1], Status.ERROR)
  assert.equal(call[2], 'ERR_PROTOCOL')
  const [, status, list] = await peer.request(Op.SERVICES, true)
  assert.equal(status, Status.OK)
  assert.equal((list as unknown[][])[0]![3] instanceof Array, true)
})

test('messaging: a message or call arguments a raw peer writes outside the value model are refused; nobody receives them', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  const client = await clientFor(server)
  let calls = 0
  await client.provide('svc', { m: () => ++calls })
  const subscription = client.subscribe('t')
  await subscription.ready
  // Hand-made MessagePack where the value goes: what no client writes, and msgpackr would decode as
  // something else (or as undefined).
  const bad = {
    extension: Buffer.from('d40100', 'hex'),
    proto: Buffer.concat([Buffer.from('81a9', 'hex'), Buffer.from('__proto__'), Buffer.from('01', 'hex')]),
    uint64: Buffer.from('cfffffffffffffffff', 'hex'),
    notUtf8: Buffer.from('a3eda080', 'hex'),
    deep: Buffer.concat([Buffer.alloc(600, 0x91), Buffer.from('c0', 'hex')]),
  }
  const MARK = 'MARKMARK'
  const frameWith = (request: unknown[], value: Buffer): Buffer => {
    const frame = encode([request])
    const at = frame.indexOf(Buffer.concat([Buffer.of(0xa0 | MARK.length), Buffer.from(MARK)]))
    return Buffer.concat([frame.subarray(0, at), value, frame.subarray(at + 1 + MARK.length)])
  }
  for (const [what, value] of Object.entries(bad)) {
    for (const request of [
      [1, Op.PUBLISH, 't', MARK],
      [1, Op.CALL, 'svc', 'm', [MARK], 5_000],
    ]) {
      const [reply] = await peer.send(frameWith(request, value))
      assert.equal(reply?.[1], Status.ERROR, `${what}: ${JSON.stringify(reply)}`)
      assert.ok(
        ['ERR_PROTOCOL', 'ERR_UNENCODABLE'].includes(reply[2] as string),
        `${what}: ${String(reply[2])}`,
      )
    }
  }
  await client.publish('t', 'good')
  const first = await subscription.next()
  assert.deepEqual(first.value, { topic: 't', message: 'good' })
  assert.equal(await client.call('svc', 'm'), 1, 'no call with bad arguments reached the provider')
  assert.equal(subscription.dropped, 0)
})

test('messaging: the provider registry is bounded per provider, per client and in all; SERVICES stays small', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peers = await Promise.all([rawPeer(t, server.address), rawPeer(t, server.address)])
  // 64 method names of 1,000 bytes: 64,000 bytes, as much as one provider may name.
  const methods = (p: number, n = 64): string[] =>
    Array.from({ length: n }, (_, i) => `${p}.${i}.`.padEnd(1_000, 'm'))
  const tooMany = await peers[0].request(Op.PROVIDE, 'big', methods(0, 66), 1, 1)
  assert.deepEqual(tooMany.slice(1, 3), [Status.ERROR, 'ERR_INVALID_ARGUMENT'])
  // 1 MiB of names in all (services', methods' and clients'): 16 such providers, from clients of
  // their own.
  const codes: string[] = []
  for (let p = 0; p < 17; p++) {
    const reply = await peers[p % 2]!.request(Op.PROVIDE, `svc${p}`, methods(p), 1, p + 1)
    codes.push(reply[1] === Status.OK ? 'ok' : String(reply[2]))
  }
  assert.deepEqual(codes, [...Array(16).fill('ok'), 'ERR_OVERFLOW'])
  // One withdrawn, another fits.
  assert.equal((await peers[0].request(Op.WITHDRAW, 1))[1], Status.OK)
  assert.equal((await peers[1].request(Op.PROVIDE, 'again', methods(999), 1, 1000))[1], Status.OK)
  // A client's own bound: 1,024 providers of one method each.
  const small = await rawPeer(t, server.address)
  for (let p = 1; p <= 1_024; p++)
    assert.equal((await small.request(Op.PROVIDE, 's', ['m'], 1, p))[1], Status.OK)
  assert.deepEqual((await small.request(Op.PROVIDE, 's', ['m'], 1, 1_025)).slice(1, 3), [
    Status.ERROR,
    'ERR_OVERFLOW',
  ])
})

test('messaging: queued calls hold 128 MiB of arguments at most; a call pushed to its provider holds none', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  let held = 0
  const hold = (): Promise<never> => {
    held++
    return new Promise(() => {})
  }
  await client.provide('svc', { hold }, { concurrency: 1 })
  const raw = await rawSession(t, server.address)
  const big = new Uint8Array(15_000_000)
  // The first is pushed to the provider, which holds it; eight more wait (120 MB); a ninth would
  // pass 128 MiB (134,217,728 bytes).
  for (let id = 2; id <= 11; id++) await raw.send([id, Op.CALL, 'svc', 'hold', [big], 60_000])
  const [, status, code] = await raw.reply(11)
  assert.deepEqual([status, code], [Status.ERROR, 'ERR_OVERFLOW'])
  await until(() => held === 1, 'the provider holds the first call')
  // A cancelled call frees its bytes: another one waits in its place.
  await raw.send([0, Op.CANCEL, 3])
  await raw.send([12, Op.CALL, 'svc', 'hold', [big], 60_000])
  await raw.send([13, Op.PING])
  await raw.reply(13)
  assert.equal(raw.replies.get(12), undefined, 'waiting, not refused')
  for (const id of [2, 4, 5, 6, 7, 8, 9, 10]) assert.equal(raw.replies.get(id), undefined)
})
