import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { connect } from '../lib/index.ts'
import { addressFor, clientProcess, fixture, stress } from './support.ts'

// A write is acknowledged by its published commit. These specs lose those commits on purpose (a
// PUB queue of a few messages while the writer's event loop is blocked, and a history too short to
// repair the gap) and check that every write still settles exactly once, with its own result.

async function serverProcess(t: TestContext, options: Record<string, unknown>) {
  const server = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc'), ...options })])
  const { address } = (await server.event(1)) as { address: string }
  return address
}

function block(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until);
}

const rounds = stress ? 20 : 3
const writes = stress ? 2_000 : 300

test('acknowledgements: writes whose commits were dropped and compacted away settle exactly once', async (t) => {
  const address = await serverProcess(t, { publishHighWaterMark: 4, history: { revisions: 16 } })
  // Another process writes one message at a time, each with a 600-byte pad written alongside: a
  // stream of PUB messages that surely overflows the writer's subscription (its receive queue and
  // the socket buffers) while the writer's event loop is blocked.
  const blaster = await clientProcess(t, address, 'blaster')
  const writer = await connect(address)
  t.after(() => writer.close())
  let expected = 0
  // How long the writer stops reading: doubled after a round that lost nothing, as on a loaded
  // machine the blaster may publish too little within it to overflow the writer's subscription.
  let blockMs = 600
  // Until the writer lost commits at least once: a loaded machine may not overflow it every round.
  for (let round = 0; round < rounds || (writer.metrics().resyncs === 0 && round < 4 * rounds); round++) {
    const resyncs = writer.metrics().resyncs
    const blast = blaster.call('writeSequence', 'blast', 5_000, false, 600)
    await blaster.call('sync')
    let settled = 0
    const results = Array.from({ length: writes }, (_, i) =>
      (i % 2 === 0 ? writer.state.increment('n') : writer.state.set(`k${i % 100}`, i)).finally(
        () => settled++,
      ),
    )
    // Let the writes go out, then stop reading while they and the blaster's commits are published.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    block(blockMs)
    const values = await Promise.all(results)
    await blast
    assert.equal(settled, writes, 'every write settled')
    const increments = values.filter((_, i) => i % 2 === 0).map(Number)
    assert.deepEqual(
      [...increments].sort((a, b) => a - b),
      Array.from({ length: writes / 2 }, (_, i) => expected + i + 1),
      'each increment got its own value, once',
    )
    expected += writes / 2
    if (writer.metrics().resyncs === resyncs) blockMs = Math.min(2 * blockMs, 5_000)
    assert.ok(
      values.filter((_, i) => i % 2 === 1).every((revision) => revision > 0),
      'every set got its revision',
    )
  }
  assert.ok(writer.metrics().resyncs > 0, 'the writer had to resync: its commits were lost')
  assert.equal(writer.state.get('n'), expected)
  await writer.state.sync()
  const fresh = await connect(address)
  t.after(() => fresh.close())
  await fresh.state.sync()
  assert.equal(fresh.state.revision, writer.state.revision)
  assert.deepEqual(fresh.state.snapshot(), writer.state.snapshot())
})

test('acknowledgements: a write learns its revision from its commit, with no reply', async (t) => {
  const address = await serverProcess(t, {})
  const writer = await connect(address)
  t.after(() => writer.close())
  const before = writer.metrics().messagesIn
  const revision = await writer.state.set('k', 1)
  assert.equal(revision, 1)
  assert.equal(writer.state.get('k'), 1)
  assert.equal(writer.metrics().messagesIn - before, 1, 'one message back: the commit')
})
