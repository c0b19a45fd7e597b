// A watch() iterator or a topic subscription dropped without return() is garbage like any object (the
// client holds it weakly, and unsubscribes once it is collected), while one a consumer awaits stays
// alive however many garbage collections run: a for await loop suspended in next() is reachable only
// through its iterator.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Change, Client, State } from '../lib/index.ts'
import { clientFor, serverFor } from './support.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// Collects until `ref` is gone. A deref() keeps its target until the turn ends, so each collection
// runs a turn after the last look.
async function collections(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc()
    await turn()
  }
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    await turn()
    gc()
    await turn()
    if (ref.deref() === undefined) return true
  }
  return false
}

// Two watches, one read once and one never, left with a change each unread; only refs come back (a
// suspended async function may keep what its own locals held).
async function dropWatches(
  state: State<Record<string, unknown>>,
  latest: boolean,
): Promise<WeakRef<object>[]> {
  const unread = state.watch({ key: 'a', latest })
  const read = state.watch({ prefix: '', latest })
  await state.set('a', 1)
  assert.equal((await read.next()).value?.key, 'a')
  await state.set('a', 2)
  return [new WeakRef(unread), new WeakRef(read)]
}

test('a watch() dropped unread, or after reading, is collected', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  const refs = [...(await dropWatches(state, false)), ...(await dropWatches(state, true))]
  for (const ref of refs) assert.equal(await collected(ref), true, 'a dropped watch() was kept')
  // The replica goes on without them.
  await state.set('a', 3)
  assert.equal(state.get('a'), 3)
})

// Settles with what `pending` settles with, or 'lost' if it has not after 10 s.
function within<T>(pending: Promise<T>): Promise<T | 'lost'> {
  const lost = new Promise<'lost'>((resolve) => setTimeout(resolve, 10_000, 'lost').unref())
  return Promise.race([pending, lost])
}

test('a watch() a consumer awaits survives garbage collections and gets its change', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  const { state } = await clientFor(server)
  for (let round = 0; round < 3; round++) {
    // Nothing but the suspended loop holds the iterator.
    const first = (async (): Promise<Change | undefined> => {
      for await (const change of state.watch({ key: 'b' })) return change
    })()
    await collections()
    await writer.state.set('b', round)
    const change = await within(first)
    assert.notEqual(change, 'lost', 'the awaited watch() was collected: its loop never resumed')
    assert.equal((change as Change).value, round)
  }
})

// A subscription that got a message, ready and dropped; only a ref comes back.
async function dropSubscription(client: Client, publisher: Client): Promise<WeakRef<object>> {
  const subscription = client.subscribe('news/')
  await subscription.ready
  await publisher.publish('news/1', 'one')
  assert.equal((await subscription.next()).value?.message, 'one')
  await publisher.publish('news/2', 'two') // held, unread
  return new WeakRef(subscription)
}

// A loop awaiting a ready subscription's first message: nothing else holds the subscription.
async function firstMessage(client: Client): Promise<{ first: Promise<unknown> }> {
  const subscription = client.subscribe('jobs/')
  await subscription.ready
  const first = (async (): Promise<unknown> => {
    for await (const { message } of subscription) return message
  })()
  return { first }
}

test('a topic subscription dropped is collected; one a consumer awaits gets its message', async (t) => {
  const server = await serverFor(t, 'ipc')
  const publisher = await clientFor(server)
  const client = await clientFor(server)
  const ref = await dropSubscription(client, publisher)
  assert.equal(await collected(ref), true, 'a dropped subscription was kept')
  for (let round = 0; round < 3; round++) {
    const { first } = await firstMessage(client)
    await collections()
    await publisher.publish('jobs/1', round)
    const message = await within(first)
    assert.notEqual(message, 'lost', 'the awaited subscription was collected: its loop never resumed')
    assert.equal(message, round)
  }
})

// A next() pending on an iterator nothing else holds: only the promise comes back.
async function pendingNext(client: Client): Promise<{ watched: Promise<unknown>; heard: Promise<unknown> }> {
  const subscription = client.subscribe('pending/')
  await subscription.ready
  const watched = client.state
    .watch({ key: 'pending' })
    .next()
    .then((result) => result.value?.value)
  return { watched, heard: subscription.next().then((result) => result.value?.message) }
}

test('a next() pending on a watch() or subscription nothing else holds still settles', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  const client = await clientFor(server)
  for (let round = 0; round < 3; round++) {
    const { watched, heard } = await pendingNext(client)
    await collections()
    await writer.state.set('pending', round)
    await writer.publish('pending/1', round)
    assert.equal(await within(watched), round, 'the watch() was collected')
    assert.equal(await within(heard), round, 'the subscription was collected')
  }
})

// Made with a signal that outlives them, read once and dropped; only refs come back.
async function dropWithSignal(client: Client, signal: AbortSignal): Promise<WeakRef<object>[]> {
  const watch = client.state.watch({ key: 'a', signal })
  const subscription = client.subscribe('news/', { signal })
  await subscription.ready
  await client.state.set('a', 1)
  await client.publish('news/1', 1)
  assert.equal((await watch.next()).value?.value, 1)
  assert.equal((await subscription.next()).value?.message, 1)
  return [new WeakRef(watch), new WeakRef(subscription)]
}

test('a watch() or subscription dropped while its long-lived signal lives on is collected', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const forever = new AbortController()
  const refs = await dropWithSignal(client, forever.signal)
  for (const ref of refs) assert.equal(await collected(ref), true, 'its signal kept it')
  assert.equal(forever.signal.aborted, false)
})
