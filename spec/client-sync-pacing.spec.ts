// The replica's pacing: commits that arrive message after message within microtasks (a receive() with
// a message already queued resolves at once) are applied at most 1,024 changes an event-loop turn, so
// a watch consumer, which takes one change per microtask hop, drains what it holds in between.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Coverage } from '../lib/client/coverage.ts'
import { createMetrics } from '../lib/client/metrics.ts'
import { Synchronizer } from '../lib/client/sync.ts'
import { watch } from '../lib/client/watch.ts'
import type { WireCommit } from '../lib/protocol/ops.ts'

const EPOCH = 'e1'
const COUNT = 20_000
const PER_MESSAGE = 40

function pageOf(first: number): WireCommit[] {
  return Array.from({ length: PER_MESSAGE }, (_, i) => ({
    revision: first + i,
    previous: first + i - 1,
    changes: [['x', 0, first + i]],
  }))
}

// How each message reaches the replica: a full replica's published commits, or a partial one's pushes.
const deliveries = {
  'published commits (full replica)': (sync: Synchronizer, first: number) =>
    sync.receive(EPOCH, pageOf(first)),
  'pushed segments (partial replica)': (sync: Synchronizer, first: number) =>
    sync.segment(EPOCH, { from: first - 1, upTo: first + PER_MESSAGE - 1, commits: pageOf(first) }),
}

for (const [how, deliver] of Object.entries(deliveries)) {
  test(`watch: 20,000 changes delivered in microtasks, 40 a message, reach a microtask consumer without ERR_OVERFLOW: ${how}`, async () => {
    const sync = new Synchronizer(createMetrics(), new Coverage(how.includes('partial') ? ['x'] : undefined))
    sync.attach({
      session: 1,
      acknowledge: () => {},
      history: () => Promise.reject(new Error('no gap expected')),
      snapshot: () => Promise.reject(new Error('no snapshot expected')),
      epochChanged: () => assert.fail('the epoch does not change'),
    })
    sync.install({ epoch: EPOCH, revision: 0, entries: [], acks: [] }, false)
    const changes = watch(sync, '', { key: 'x' }, () => Promise.reject(new Error('no replay')))
    const delivered = (async () => {
      for (let first = 1; first <= COUNT; first += PER_MESSAGE) {
        deliver(sync, first)
        await Promise.resolve() // the next message, as a receive() that resolves at once delivers it
      }
    })()
    const seen: number[] = []
    for await (const change of changes) {
      seen.push(change.value as number)
      if (seen.length === COUNT) break
    }
    await delivered
    assert.equal(seen.length, COUNT)
    for (let i = 0; i < COUNT; i++)
      if (seen[i] !== i + 1) assert.fail(`change ${i + 1} arrived as ${seen[i]}`)
    assert.equal(sync.replica.revision, COUNT)
  })
}

test('pacing: with no watch stream open, a burst is applied as it arrives, all at once', () => {
  const sync = new Synchronizer(createMetrics())
  const acknowledged: number[] = []
  sync.attach({
    session: 1,
    acknowledge: (requestId) => acknowledged.push(requestId),
    history: () => Promise.reject(new Error('no gap expected')),
    snapshot: () => Promise.reject(new Error('no snapshot expected')),
    epochChanged: () => assert.fail('the epoch does not change'),
  })
  sync.install({ epoch: EPOCH, revision: 0, entries: [], acks: [] }, false)
  const burst = Array.from({ length: 5_000 }, (_, i) => ({
    revision: i + 1,
    previous: i,
    changes: [['x', 0, i + 1]] as WireCommit['changes'],
    origin: { session: 1, requestId: i + 1 },
  }))
  sync.receive(EPOCH, burst)
  assert.equal(sync.replica.revision, 5_000)
  assert.equal(sync.replica.data.get('x'), 5_000)
  assert.deepEqual(
    acknowledged,
    Array.from({ length: 5_000 }, (_, i) => i + 1),
  )
})
