import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clientProcess, serverFor, stress, transports } from './support.ts'

for (const transport of transports) {
  test(`state: writes in one client process are visible in another (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    const a = await clientProcess(t, server.address, 'a')
    const b = await clientProcess(t, server.address, 'b')
    const revision = await a.call<number>('set', 'greeting', { text: 'hello', n: [1, 2] })
    assert.equal(await a.call('get', 'greeting').then((v) => JSON.stringify(v)), '{"text":"hello","n":[1,2]}')
    // b has not necessarily seen it yet; sync() is the barrier.
    assert.ok((await b.call<number>('sync')) >= revision)
    assert.deepEqual(await b.call('get', 'greeting'), { text: 'hello', n: [1, 2] })
    const again = await b.call<number>('set', 'greeting', 'bye')
    assert.ok(again > revision)
    await a.call('sync')
    assert.equal(await a.call('get', 'greeting'), 'bye')
  })

  test(`state: every write is read back by its writer at once, awaited and in flight (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    const a = await clientProcess(t, server.address, 'a')
    const b = await clientProcess(t, server.address, 'b')
    const n = stress ? 20_000 : 500
    // Both write concurrently, each checking read-your-writes after every awaited write.
    const [ra, rb] = await Promise.all([
      a.call<number>('writeSequence', 'a', n, false),
      b.call<number>('writeSequence', 'b', n, false),
    ])
    assert.ok(ra <= 2 * n && rb <= 2 * n)
    await Promise.all([a.call('writeSequence', 'a2', n, true), b.call('writeSequence', 'b2', n, true)])
    await a.call('sync')
    assert.equal(await a.call('get', 'b2'), n)
    assert.equal(await a.call('revision'), 4 * n)
  })
}
