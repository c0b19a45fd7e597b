// A burst of writes made in one synchronous loop (no yield until all are made): the channel sends each
// full batch as it fills, beside the send in flight, so the server works through the burst while the
// caller is still making it; and the writes still apply in the order they were made.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clientFor, clientProcess, serverFor } from './support.ts'

const WRITES = 200_000
// Several batches (512 requests each) past the one request the send loop sends before the caller yields.
const SEEN_BEFORE_THE_END = 4_096

test('burst: the server applies a burst of writes while its caller is still making them, in order', async (t) => {
  const server = await serverFor(t, 'ipc')
  const watcher = await clientFor<Record<string, number>>(server, { name: 'watcher' })
  const writer = await clientProcess(t, server.address, 'writer')
  const seen = watcher.state
    .when('n', (value) => value !== undefined && value >= SEEN_BEFORE_THE_END, { timeout: 60_000 })
    .then(() => Date.now())
  const { loopEnded, ordered } = await writer.call<{ loopEnded: number; ordered: boolean }>(
    'burst',
    'n',
    WRITES,
  )
  assert.equal(ordered, true, 'the revisions of the writes grew in the order they were made')
  assert.ok(
    (await seen) <= loopEnded,
    `write ${SEEN_BEFORE_THE_END} was applied ${(await seen) - loopEnded} ms after the loop ended`,
  )
  await watcher.state.when('n', (value) => value === WRITES, { timeout: 60_000 })
  assert.equal(watcher.state.get('n'), WRITES)
})

// The server lets at most 2 × maxMessageBytes of a client's frames wait for their turn (32 MiB by
// default), and refuses the rest (ERR_OVERFLOW, nothing applied): the client sends at most
// maxMessageBytes ahead of what the server has confirmed. Before, 74 of these 200 were refused.
test('burst: large writes made at once, more bytes than the server lets wait, all commit in the order made', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  const value = (i: number): string => `${i}:`.padEnd(256 * 1024, 'x')
  // 50 MiB at once.
  const revisions = await Promise.all(Array.from({ length: 200 }, (_, i) => state.set(`big/${i}`, value(i))))
  revisions.forEach((revision, i) => {
    if (i > 0) assert.ok(revision > revisions[i - 1]!, `write ${i} committed after write ${i - 1}`)
  })
  for (let i = 0; i < 200; i++) assert.equal(state.get(`big/${i}`), value(i))
})
