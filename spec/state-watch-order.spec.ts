import assert from 'node:assert/strict'
import { test } from 'node:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { clientProcess, serverFor, stress, tempDir, transports } from './support.ts'

const n = stress ? 100_000 : 2_000

async function watchWhileWriting(address: string, t: Parameters<typeof clientProcess>[0], inFlight: boolean) {
  const writer = await clientProcess(t, address, 'writer')
  const watcher = await clientProcess(t, address, 'watcher')
  await watcher.call('startCollect', 'x', n)
  await writer.call('writeSequence', 'x', n, inFlight)
  const { collected, error, metrics } = (await watcher.event(2)) as {
    collected: number[]
    error?: string
    metrics: { gapsRepaired: number }
  }
  assert.equal(error, undefined, 'the watch ended early')
  assert.equal(collected.length, n, 'every value exactly once')
  for (let i = 0; i < n; i++)
    if (collected[i] !== i + 1) assert.fail(`value ${i + 1} arrived as ${collected[i]} at position ${i}`)
  return metrics
}

for (const transport of transports) {
  for (const inFlight of [false, true]) {
    const how = inFlight ? 'all in flight' : 'awaited one by one'
    test(`watch: a watcher in another process sees every value in order, ${how} (${transport})`, async (t) => {
      const server = await serverFor(t, transport)
      await watchWhileWriting(server.address, t, inFlight)
    })
  }
}

for (const inFlight of [false, true]) {
  test(`watch: gap repair hides what PUB dropped at a tiny high-water mark (${inFlight ? 'in flight' : 'awaited'})`, async (t) => {
    // History must cover what the blocked watcher misses, or it resyncs (tested elsewhere).
    const server = await serverFor(t, 'ipc', {
      publishHighWaterMark: 1,
      history: { revisions: 2 * n + 10, bytes: 1 << 30 },
    })
    const release = join(tempDir(t), 'release')
    const writer = await clientProcess(t, server.address, 'writer')
    const watcher = await clientProcess(t, server.address, 'watcher')
    await watcher.call('startCollect', 'x', n)
    // The watcher stops reading while n padded writes are published: far more than PUB, SUB and kernel buffers hold.
    await watcher.call('blockUntilExists', release)
    await writer.call('writeSequence', 'x', n, inFlight, stress ? 512 : 4096)
    writeFileSync(release, '')
    const { collected, error, metrics } = (await watcher.event(2)) as {
      collected: number[]
      error?: string
      metrics: { gapsRepaired: number }
    }
    assert.equal(error, undefined, 'the watch ended early')
    assert.deepEqual(
      collected,
      Array.from({ length: n }, (_, i) => i + 1),
    )
    // Awaited writes publish one message each, far more than the buffers hold: drops are certain.
    // In flight, the server packs a turn's commits into one message, so there may be too few to drop.
    if (!inFlight)
      assert.ok(metrics.gapsRepaired >= 1, 'PUB dropped messages and the watcher repaired the gap')
    t.diagnostic(`gaps repaired: ${metrics.gapsRepaired}`)
  })
}
