import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deferred } from '../lib/deferred.ts'
import { QueuedIterator } from '../lib/queued-iterator.ts'

// Everything the iterator yields until it is done; the error it throws, if any, comes as `thrown`.
async function drain<T>(iterator: AsyncIterator<T>): Promise<{ items: T[]; thrown?: unknown }> {
  const items: T[] = []
  try {
    for (;;) {
      const result = await iterator.next()
      if (result.done === true) return { items }
      items.push(result.value)
    }
  } catch (thrown) {
    return { items, thrown }
  }
}

// Runs `fn` while counting calls of the named methods of `proto` (node:test cannot mock
// Array.prototype: it is an array itself).
async function counting<R>(
  proto: object,
  names: string[],
  fn: () => Promise<R>,
): Promise<{ result: R; calls: Record<string, number> }> {
  const target = proto as Record<string, (...args: unknown[]) => unknown>
  const calls: Record<string, number> = {}
  const originals = names.map((name) => [name, target[name]!] as const)
  for (const [name, original] of originals) {
    calls[name] = 0
    target[name] = function (this: unknown, ...args: unknown[]) {
      calls[name]!++
      return original.apply(this, args)
    }
  }
  try {
    return { result: await fn(), calls }
  } finally {
    for (const [name, original] of originals) target[name] = original
  }
}

test('queued iterator: yields in order, waits for pushes, and end() lets the held items out first', async () => {
  const queue = new QueuedIterator<number>()
  const pending = queue.next()
  queue.push(1)
  assert.deepEqual(await pending, { done: false, value: 1 })
  queue.push(2)
  queue.push(3)
  queue.end()
  queue.push(4) // ignored: ended
  assert.equal(queue.ended, true)
  assert.deepEqual(await drain(queue), { items: [2, 3] })
  const failed = new QueuedIterator<number>()
  const boom = new Error('boom')
  failed.push(1)
  failed.end(boom)
  assert.equal(failed.reason, boom)
  assert.deepEqual(await drain(failed), { items: [1], thrown: boom })
  assert.deepEqual(await failed.next(), { done: true, value: undefined }, 'the error is thrown once')
})

test("queued iterator: 'error' ends with its error after the items held at the limit", async () => {
  const overflow = new Error('overflow')
  let ends = 0
  const queue = new QueuedIterator<number>({
    overflow: { policy: 'error', limit: 3, error: () => overflow },
    onEnd: () => ends++,
  })
  for (let i = 1; i <= 5; i++) queue.push(i)
  assert.equal(ends, 1, 'the producer let go at the overflow')
  assert.deepEqual(await drain(queue), { items: [1, 2, 3], thrown: overflow })
  // Consumed items make room: the limit counts only what is unconsumed.
  const paced = new QueuedIterator<number>({ overflow: { policy: 'error', limit: 2, error: () => overflow } })
  for (let i = 1; i <= 10; i++) {
    paced.push(i)
    assert.equal((await paced.next()).value, i)
  }
  assert.equal(paced.ended, false)
})

test("queued iterator: 'drop' discards and counts what comes beyond the limit, then takes again", async () => {
  const queue = new QueuedIterator<number>({ overflow: { policy: 'drop', limit: 3 } })
  for (let i = 1; i <= 5; i++) queue.push(i)
  assert.equal(queue.dropped, 2)
  assert.equal((await queue.next()).value, 1)
  queue.push(6)
  queue.push(7)
  queue.end()
  assert.deepEqual(await drain(queue), { items: [2, 3, 6] })
  assert.equal(queue.dropped, 3)
})

test("queued iterator: 'keep-latest' holds the newest unconsumed item per key, a replaced one at the back", async () => {
  const queue = new QueuedIterator<{ key: string; n: number }>({
    overflow: { policy: 'keep-latest', key: (item) => item.key },
  })
  queue.push({ key: 'a', n: 1 })
  queue.push({ key: 'b', n: 1 })
  queue.push({ key: 'a', n: 2 })
  assert.deepEqual((await queue.next()).value, { key: 'b', n: 1 })
  queue.push({ key: 'b', n: 2 }) // b was consumed: held again
  queue.push({ key: 'c', n: 1 })
  queue.push({ key: 'a', n: 3 })
  queue.end()
  assert.deepEqual(
    (await drain(queue)).items.map(({ key, n }) => `${key}${n}`),
    ['b2', 'c1', 'a3'],
  )
})

test('queued iterator: break, return(), close(), the signal and await using all end it', async (t) => {
  let ends = 0
  const onEnd = (): void => void ends++
  const broken = new QueuedIterator<number>({ onEnd })
  broken.push(1)
  broken.push(2)
  for await (const n of broken) {
    assert.equal(n, 1)
    break
  }
  assert.equal(ends, 1)
  broken.push(3)
  assert.deepEqual(await broken.next(), { done: true, value: undefined }, 'what was held is discarded')

  const closed = new QueuedIterator<number>({ onEnd })
  const waiting = closed.next()
  closed.close()
  closed.close()
  assert.deepEqual(await waiting, { done: true, value: undefined }, 'a pending next() ends')
  assert.equal(ends, 2, 'close() is idempotent')

  const controller = new AbortController()
  const signalled = new QueuedIterator<number>({ signal: controller.signal, onEnd })
  signalled.push(1)
  const reason = new Error('stop')
  controller.abort(reason)
  assert.equal(ends, 3)
  assert.deepEqual(await drain(signalled), { items: [1], thrown: reason })
  const early = new QueuedIterator<number>({ signal: AbortSignal.abort(reason), onEnd })
  assert.equal(ends, 4, 'an aborted signal ends it at once')
  await assert.rejects(early.next(), (e) => e === reason)

  let disposed: QueuedIterator<number> | undefined
  {
    await using scoped = new QueuedIterator<number>({ onEnd })
    scoped.push(1)
    disposed = scoped
  }
  assert.equal(ends, 5)
  assert.deepEqual(await disposed.next(), { done: true, value: undefined })
  void t
})

test('queued iterator: a prelude comes before every pushed item; its failure ends the iterator', async () => {
  const replay = deferred<number[]>()
  const queue = new QueuedIterator<number>({ prelude: replay.promise })
  queue.push(3)
  const first = queue.next()
  queue.push(4)
  replay.resolve([1, 2])
  assert.equal((await first).value, 1)
  queue.end()
  assert.deepEqual(await drain(queue), { items: [2, 3, 4] })

  const stalled = new QueuedIterator<number>({ prelude: new Promise<number[]>(() => {}) })
  const waiting = stalled.next()
  stalled.close()
  assert.deepEqual(await waiting, { done: true, value: undefined }, 'close() does not wait for the prelude')

  const gone = new Error('compacted')
  const failing = new QueuedIterator<number>({ prelude: Promise.reject(gone) })
  await assert.rejects(failing.next(), (e) => e === gone)
  // What was pushed while the prelude was made would follow a gap: the failure comes first, and only.
  for (const overflow of [undefined, { policy: 'keep-latest' as const, key: String }]) {
    const late = deferred<number[]>()
    const dropped = new QueuedIterator<number>({ prelude: late.promise, overflow })
    dropped.push(7)
    dropped.push(8)
    late.reject(gone)
    await assert.rejects(dropped.next(), (e) => e === gone)
    assert.deepEqual(await dropped.next(), { done: true, value: undefined })
  }
  // A prelude that fails before anyone reads is no unhandled rejection; a closed iterator ignores it.
  const unread = new QueuedIterator<number>({ prelude: Promise.reject(gone) })
  unread.close()
  assert.deepEqual(await unread.next(), { done: true, value: undefined })
})

test('queued iterator: 10,000 held items and 100,000 kept-latest keys drain in O(1) steps each', async () => {
  const n = 10_000
  const queue = new QueuedIterator<number>({
    overflow: { policy: 'error', limit: n, error: () => new Error('overflow') },
  })
  for (let i = 0; i < n; i++) queue.push(i)
  queue.end()
  // Counted, not timed: no shift() (it moves every remaining item), no copy per item taken.
  const counts = await counting(Array.prototype, ['shift', 'slice', 'splice'], () => drain(queue))
  const { items } = counts.result
  assert.equal(items.length, n)
  assert.ok(
    items.every((item, i) => item === i),
    'in order',
  )
  assert.deepEqual(counts.calls, { shift: 0, slice: 0, splice: 0 })

  const keys = 100_000
  const latest = new QueuedIterator<string>({ overflow: { policy: 'keep-latest', key: (key) => key } })
  for (let i = 0; i < keys; i++) latest.push(`k${i}`)
  latest.end()
  // A fresh entries() per take would step over every key taken before it: count the walks.
  const walks = await counting(Map.prototype, ['entries'], () => drain(latest))
  const drained = walks.result
  assert.equal(drained.items.length, keys)
  assert.equal(drained.items[keys - 1], `k${keys - 1}`)
  assert.ok(walks.calls.entries! <= 2, `${walks.calls.entries} walks over the held keys`)
})
