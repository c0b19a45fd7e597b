import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ErrorCode,
  connect,
  isZStateError,
  startServer,
  type Subscription,
  type WorkerContext,
} from '../lib/index.ts'
import { serverFor, stress, transports } from './support.ts'
import { clients, topicProcess } from './messaging-support.ts'
import { contextFor, until } from './process-support.ts'

// Takes messages until one on `last` arrives (a sentinel: the stream is ordered per publisher). It
// calls next() by hand: a for-await loop's break would end the subscription.
async function collectUntil(subscription: Subscription, last: string): Promise<string[]> {
  const topics: string[] = []
  for (;;) {
    const { done, value } = await subscription.next()
    if (done === true) return topics
    topics.push(value.topic)
    if (value.topic === last) return topics
  }
}

for (const transport of transports) {
  test(`messaging: subscribe(prefix) gets exactly the topics under its prefix (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    const publisher = await topicProcess(t, server.address, 'publisher')
    await using client = await connect(server.address)
    const sensors = client.subscribe('sensors/')
    const everything = client.subscribe('')
    await Promise.all([sensors.ready, everything.ready])
    const topics = [
      'sensors/a',
      'sensor',
      'Sensors/b',
      'other/sensors/c',
      'sensors/b/c',
      'sensors',
      'sensors/end',
    ]
    for (const topic of topics) await publisher.call('publish', topic, { topic })
    assert.deepEqual(await collectUntil(sensors, 'sensors/end'), ['sensors/a', 'sensors/b/c', 'sensors/end'])
    assert.deepEqual(await collectUntil(everything, 'sensors/end'), topics)
  })
}

test('messaging: messages published after ready arrive in order, each once, as frozen values', async (t) => {
  const count = stress ? 10_000 : 2_000
  const server = await serverFor(t, 'ipc')
  const publisher = await topicProcess(t, server.address, 'publisher')
  await using client = await connect(server.address)
  const subscription = client.subscribe<{ i: number; pad: string }>('seq/')
  await subscription.ready
  // No more than the PUB high-water mark (10,000 per subscriber) in total: nothing may be dropped.
  const flooding = publisher.call('flood', 'seq/n', count, 500)
  let expected = 0
  for await (const { topic, message } of subscription) {
    assert.equal(topic, 'seq/n')
    assert.equal(message.i, expected++)
    assert.ok(Object.isFrozen(message))
    if (expected === count) break
  }
  await flooding
})

test('messaging: break unsubscribes one subscription; others on the same prefix keep receiving', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  const first = b.subscribe('x/')
  const second = b.subscribe('x/')
  await Promise.all([first.ready, second.ready])
  await a.publish('x/1', 1)
  for await (const { message } of first) {
    assert.equal(message, 1)
    break
  }
  assert.deepEqual(await first.next(), { done: true, value: undefined })
  await a.publish('x/2', 2)
  assert.deepEqual(await collectUntil(second, 'x/2'), ['x/1', 'x/2'])
  // The socket-level subscription survived the first one's unsubscribe; a new one works as well.
  const third = b.subscribe('x/')
  await third.ready
  await a.publish('x/3', 3)
  assert.deepEqual(await collectUntil(second, 'x/3'), ['x/3'])
  assert.deepEqual(await collectUntil(third, 'x/3'), ['x/3'])
  second.close()
  third.close()
  assert.equal((await second.next()).done, true)
})

test('messaging: a subscription’s signal ends it with signal.reason', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using client = await connect(server.address)
  const reason = new Error('enough')
  const controller = new AbortController()
  const subscription = client.subscribe('s/', { signal: controller.signal })
  await subscription.ready
  await client.publish('s/1', 'one')
  const iterator = subscription[Symbol.asyncIterator]()
  assert.deepEqual((await iterator.next()).value, { topic: 's/1', message: 'one' })
  controller.abort(reason)
  await assert.rejects(iterator.next(), (e) => e === reason)
  const early = client.subscribe('s/', { signal: AbortSignal.abort(reason) })
  await assert.rejects(early.ready, (e) => e === reason)
  // Any reason passes unchanged, null too.
  const none = client.subscribe('s/', { signal: AbortSignal.abort(null) })
  await assert.rejects(none.ready, (e) => e === null)
})

test('messaging: await using a subscription unsubscribes at the end of the block', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using client = await connect(server.address)
  const staying = client.subscribe('u/')
  let outside: Subscription | undefined
  {
    await using leaving = client.subscribe('u/')
    await Promise.all([leaving.ready, staying.ready])
    await client.publish('u/1', 1)
    assert.deepEqual((await leaving.next()).value, { topic: 'u/1', message: 1 })
    outside = leaving
  }
  await client.publish('u/2', 2)
  assert.deepEqual(await collectUntil(staying, 'u/2'), ['u/1', 'u/2'])
  assert.deepEqual(await outside.next(), { done: true, value: undefined })
})

test('messaging: a topic flood never makes a state watcher drop a change', async (t) => {
  const messages = stress ? 200_000 : 20_000
  const writes = stress ? 1_000 : 200
  // A small high-water mark, so the flood overflows the topic PUB; state has a PUB of its own.
  const server = await serverFor(t, 'ipc', { publishHighWaterMark: 1_000 })
  const watcher = await topicProcess(t, server.address, 'watcher')
  const flooder = await topicProcess(t, server.address, 'flooder')
  await using client = await connect(server.address)
  await watcher.call('watchDuringFlood', 'counter', writes)
  const flooding = flooder.call('flood', 'flood/x', messages)
  for (let i = 1; i <= writes; i++) await client.state.set('counter', i)
  const report = (await watcher.event(2)) as {
    seen: number[]
    gapsRepaired: number
    resyncs: number
    received: number
  }
  await flooding
  assert.deepEqual(
    report.seen,
    Array.from({ length: writes }, (_, i) => i + 1),
  )
  assert.equal(report.gapsRepaired, 0, 'the state stream lost nothing to the flood')
  assert.equal(report.resyncs, 0)
  assert.ok(report.received > 0, 'the watcher was subscribed to the flood')
})

// A SUB sends its subscriptions through its send queue, and libzmq drops those past its high-water
// mark (1,000): 1,000 subscriptions made at once were never ready (their proofs lost, retried without
// end), and after a reconnection, which sends them all again at once, those past the thousandth got
// nothing, silently (an outside audit).
test('messaging: 2,500 subscriptions made at once are all ready, and all still receive after a server restart', async (t) => {
  const n = 2_500
  let server = await startServer({ address: 'tcp://127.0.0.1:*' })
  t.after(() => server.close())
  const client = await connect(server.address)
  t.after(() => client.close())
  const subscriptions = Array.from({ length: n }, (_, i) => client.subscribe<number>(`many/${i}/`))
  await Promise.all(subscriptions.map((subscription) => subscription.ready))
  const heard = subscriptions.map(() => new Set<number>())
  subscriptions.forEach((subscription, i) => {
    void (async () => {
      for await (const { message } of subscription) heard[i]!.add(message)
    })()
  })
  const everyoneHears = async (round: number, what: string): Promise<void> => {
    await until(
      async () => {
        try {
          for (let i = 0; i < n; i++) if (!heard[i]!.has(round)) await client.publish(`many/${i}/x`, round)
          await client.server()
        } catch (error) {
          // A publish in flight as the server restarts has an unknown outcome: published again.
          if (!isZStateError(error) || error.code !== ErrorCode.DISCONNECTED) throw error
        }
        return heard.every((got) => got.has(round))
      },
      `every subscription hears round ${round} ${what} (${heard.filter((got) => got.has(round)).length} of ${n})`,
      60_000,
    )
  }
  await everyoneHears(1, 'at first')
  const { address } = server
  await server.close()
  server = await startServer({ address })
  await everyoneHears(2, 'after the restart')
})

// A worker thread owns no socket: its parent serves one for it (lib/process/thread-sockets.ts), so
// what a subscription needs of its socket must hold there too.
test('messaging: a worker thread’s subscription is ready and receives', async (t) => {
  const ctx = await contextFor(t)
  const child = ctx.spawn(
    async (c: WorkerContext) => {
      const subscription = c.subscribe<number>('thread/')
      await subscription.ready
      await c.state.set('subscribed', true)
      for await (const { message } of subscription) return message
    },
    { thread: true },
  )
  await ctx.state.whenEqual('subscribed', true)
  await ctx.publish('thread/x', 42)
  assert.equal(await child.wait(), 42)
})
