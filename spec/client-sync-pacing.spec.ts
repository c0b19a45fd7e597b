// The replica's pacing: commits that arrive message after message within microtasks (a receive() with
// a message already queued resolves at once) are applied at most 1,024 changes an event-loop turn, so
// a watch consumer, which takes one change per microtask hop, drains what it holds in between.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../lib/client/metrics.ts'
import { Synchronizer } from '../lib/client/sync.ts'
import { watch } from '../lib/client/watch.ts'
import type { WireCommit } from '../lib/protocol/ops.ts'

const EPOCH = 'e1'

function pageOf(first: number, size: number): WireCommit[] {
  return Array.from({ length: size }, (_, i) => ({
    revision: first + i,
    previous: first + i - 1,
    changes: [['x', 0, first + i]],
  }))
}

test('watch: 20,000 changes delivered in microtasks, 40 a message, reach a microtask consumer without ERR_OVERFLOW', async () => {
  const sync = new Synchronizer(createMetrics())
  sync.attach({
    session: 1,
    acknowledge: () => {},
    history: () => Promise.reject(new Error('no gap expected')),
    snapshot: () => Promise.reject(new Error('no snapshot expected')),
    epochChanged: () => assert.fail('the epoch does not change'),
  })
  sync.install({ epoch: EPOCH, revision: 0, entries: [], acks: [] }, false)
  const changes = watch(sync, '', { key: 'x' }, () => Promise.reject(new Error('no replay')))
  const count = 20_000
  const perMessage = 40
  const delivered = (async () => {
    for (let first = 1; first <= count; first += perMessage) {
      sync.receive(EPOCH, pageOf(first, perMessage))
      await Promise.resolve() // the next message, as a receive() that resolves at once delivers it
    }
  })()
  const seen: number[] = []
  for await (const change of changes) {
    seen.push(change.value as number)
    if (seen.length === count) break
  }
  await delivered
  assert.equal(seen.length, count)
  for (let i = 0; i < count; i++) if (seen[i] !== i + 1) assert.fail(`change ${i + 1} arrived as ${seen[i]}`)
  assert.equal(sync.replica.revision, count)
})
