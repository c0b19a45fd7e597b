import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect, isZStateError } from '../lib/index.ts'
import { clientFor, serverFor } from './support.ts'

test('watch: subscribes when called, filters by key and prefix, and break unsubscribes', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  await state.set('before', 0)
  const byKey = state.watch({ key: 'a:1' })
  const byPrefix = state.watch({ prefix: 'a:' })
  await state.set('a:1', 1)
  await state.set('b:1', 2)
  await state.set('a:2', 3)
  await state.delete('a:1')
  const first = await byKey.next()
  assert.deepEqual(first.value, { key: 'a:1', value: 1, previous: undefined, deleted: false, revision: 2 })
  const deleted = await byKey.next()
  assert.equal(deleted.value?.deleted, true)
  assert.equal(deleted.value?.previous, 1)
  const keys: string[] = []
  for await (const change of byPrefix) {
    keys.push(change.key)
    if (keys.length === 3) break
  }
  assert.deepEqual(keys, ['a:1', 'a:2', 'a:1'])
  assert.deepEqual(await byPrefix.next(), { done: true, value: undefined })
})

test('watch: options are checked when called, a key by the rules of every key', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  const invalid = (e: unknown): boolean => isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT'
  for (const options of [
    { key: '__proto__' },
    { key: '' },
    { key: 'x'.repeat(1025) },
    { key: 'a\uD800' },
    { key: 5 },
    { latest: 'yes' },
    { latest: 1 },
    { prefix: 5 },
    { fromRevision: 1.5 },
  ])
    assert.throws(() => state.watch(options as never), invalid, JSON.stringify(options))
  const scoped = state.scope('s/')
  assert.throws(() => scoped.watch({ key: '__proto__' }), invalid)
  await state.watch({ key: 'k', latest: false }).return!()
})

test('watch: fromRevision replays history first; a compacted start is ERR_COMPACTED', async (t) => {
  const server = await serverFor(t, 'ipc', { history: { revisions: 10 } })
  const client = await clientFor(server)
  const { state } = client
  for (let i = 1; i <= 20; i++) await state.set('x', i)
  const replay = state.watch({ key: 'x', fromRevision: 15 })
  await state.set('x', 21)
  const values: unknown[] = []
  for await (const change of replay) {
    values.push(change.value)
    if (change.value === 21) break
  }
  assert.deepEqual(values, [15, 16, 17, 18, 19, 20, 21])
  const future = state.watch({ key: 'x', fromRevision: state.revision + 2 })
  await state.set('x', 22)
  await state.set('x', 23)
  assert.equal((await future.next()).value?.value, 23, 'nothing before fromRevision')
  const gone = state.watch({ fromRevision: 2 })
  await assert.rejects(gone.next(), (e: unknown) => isZStateError(e) && e.code === 'ERR_COMPACTED')
})

// The changes committed while the history is being read come after the gap: a consumer that stops at
// the first change it gets must still learn of the gap (an outside audit saw a live change first in 20
// of 20 tries while another client wrote).
test('watch: a compacted fromRevision fails the first next(), whatever is committed meanwhile', async (t) => {
  const server = await serverFor(t, 'ipc', { history: { revisions: 10 } })
  const writer = await clientFor(server)
  const watcher = await clientFor(server)
  for (let i = 0; i < 50; i++) await writer.state.set('z', i)
  await watcher.state.sync()
  let writing = true
  const writes = (async () => {
    for (let i = 0; writing; i++) await writer.state.set('live', i)
  })()
  try {
    for (let round = 0; round < 20; round++) {
      // The writer's commits reach the watcher's replica while its history request is in flight.
      const before = watcher.state.revision
      await watcher.state.whenChange('live')
      const gone = watcher.state.watch({ fromRevision: 1 })
      await assert.rejects(
        gone.next(),
        (e: unknown) => isZStateError(e) && e.code === 'ERR_COMPACTED',
        `round ${round} (replica at ${before})`,
      )
    }
  } finally {
    writing = false
    await writes
  }
})

test('watch: latest keeps only the newest unconsumed change per key; overflow is ERR_OVERFLOW', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  const latest = state.watch({ latest: true })
  const everything = state.watch()
  await Promise.all(Array.from({ length: 10_050 }, (_, i) => state.set(`k${i % 2}`, i)))
  assert.deepEqual((await latest.next()).value?.value, 10_048)
  assert.deepEqual((await latest.next()).value?.value, 10_049)
  await latest.return!()
  let consumed = 0
  await assert.rejects(
    (async () => {
      for await (const _ of everything) consumed++
    })(),
    (e: unknown) => isZStateError(e) && e.code === 'ERR_OVERFLOW',
  )
  assert.equal(consumed, 10_000)
})

test('watch: an AbortSignal ends the iterator with its reason; close() ends it quietly', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await connect(server.address)
  const controller = new AbortController()
  const aborted = client.state.watch({ signal: controller.signal })
  const pending = aborted.next()
  controller.abort(new Error('stop watching'))
  await assert.rejects(pending, /stop watching/)
  const quiet = client.state.watch()
  const next = quiet.next()
  await client.close()
  assert.deepEqual(await next, { done: true, value: undefined })
  void t
})

test('watch: await using ends the iterator and unsubscribes at the end of the block', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  let outside: AsyncIterator<unknown> | undefined
  {
    await using changes = state.watch({ prefix: 'u:' })
    await state.set('u:1', 1)
    assert.equal((await changes.next()).value?.key, 'u:1')
    await state.set('u:2', 2)
    outside = changes
  }
  await state.set('u:3', 3)
  assert.deepEqual(await outside.next(), { done: true, value: undefined }, 'held and later changes are gone')
})

test('scope: a prefixed view with unprefixed keys, its own snapshot, watchers and clear', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  const users = state.scope('users/')
  await users.set('ann', { age: 30 })
  await state.set('other', 1)
  assert.deepEqual(state.get('users/ann'), { age: 30 })
  assert.deepEqual([...users.keys()], ['ann'])
  assert.equal(users.size, 1)
  assert.deepEqual(users.snapshot(), { ann: { age: 30 } })
  const change = users.whenChange('bob')
  await state.set('users/bob', 1)
  assert.equal((await change).key, 'bob')
  await users.clear()
  assert.deepEqual([...state.keys()], ['other'])
  assert.equal(users.size, 0)
})

test('watch: a watcher made while a revision is handed out starts after it (listener, predicate)', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  let stream: AsyncIterableIterator<{ revision: number }> | undefined
  let changed: Promise<{ revision: number }> | undefined
  const inner: number[][] = []
  const unsubscribe = state.subscribe(() => {
    if (stream !== undefined) return
    stream = state.watch()
    changed = state.whenChange('x')
    // A when made in a listener is checked at once, then on later revisions only.
    void state.when('x', (value) => {
      inner.push([state.revision, value as number])
      return value === 2
    })
  })
  await state.set('x', 1)
  await state.set('x', 2)
  unsubscribe()
  assert.equal((await stream!.next()).value?.revision, 2)
  assert.equal((await changed!).revision, 2)
  assert.deepEqual(inner, [
    [1, 1],
    [2, 2],
  ])
  // The same for a when made inside another when's predicate.
  const nested: number[] = []
  let made = false
  const outer = state.when('y', (value) => {
    if (value === 1 && !made) {
      made = true
      void state.when('y', (v) => {
        nested.push(v as number)
        return v === 2
      })
    }
    return value === 2
  })
  await state.set('y', 1)
  await state.set('y', 2)
  await outer
  assert.deepEqual(nested, [1, 2], 'checked once at revision 1 (when made), then at 2')
})

test('watch: one commit of more changes than the unconsumed limit does not overflow a prompt consumer', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  const many = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, i]))
  await state.update(many)
  const stream = state.watch()
  const consumed = (async () => {
    let deletions = 0
    for await (const change of stream) {
      if (change.deleted) deletions++
      if (change.key === 'after') break
    }
    return deletions
  })()
  await state.clear()
  await state.set('after', 1)
  assert.equal(await consumed, 10_001)
})

test('watch: latest keeps only the newest change per key across the replay and the live changes', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  for (let i = 1; i <= 5; i++) await state.set('k', i)
  await state.set('other', 'o')
  const latest = state.watch({ fromRevision: 1, latest: true })
  await state.set('k', 6)
  await state.set('k', 7)
  const first = await latest.next()
  const second = await latest.next()
  assert.deepEqual(
    [first.value, second.value].map((change) => [change?.key, change?.value]),
    [
      ['other', 'o'],
      ['k', 7],
    ],
  )
  await state.set('k', 8)
  assert.equal((await latest.next()).value?.value, 8)
})

test('watch: fromRevision replays patched values, from the last whole write before the range', async (t) => {
  const server = await serverFor(t, 'ipc', { history: { revisions: 5_000 } })
  const writer = await clientFor(server)
  const reader = await clientFor(server)
  await writer.state.set('doc', { n: 1, tags: ['x'] })
  // More revisions than the first step back between the whole write and the range.
  await Promise.all(Array.from({ length: 3_000 }, (_, i) => writer.state.set(`other:${i % 7}`, i)))
  await writer.state.atomic((d) => {
    ;(d.doc as { n: number }).n = 2
  })
  const from = writer.state.revision
  await writer.state.atomic((d) => {
    ;(d.doc as { tags: string[] }).tags.push('y')
  })
  await reader.state.sync()
  const seen: unknown[] = []
  for await (const change of reader.state.watch({ key: 'doc', fromRevision: from })) {
    seen.push([change.revision, change.value, change.previous])
    if (seen.length === 2) break
  }
  assert.deepEqual(seen, [
    [from, { n: 2, tags: ['x'] }, { n: 1, tags: ['x'] }],
    [from + 1, { n: 2, tags: ['x', 'y'] }, { n: 2, tags: ['x'] }],
  ])
  // latest: true the same way.
  const latest = reader.state.watch({ key: 'doc', fromRevision: from, latest: true })
  assert.deepEqual((await latest.next()).value?.value, { n: 2, tags: ['x', 'y'] })
  await latest.return!()
})

test('watch: a replayed patch whose last whole write the history no longer holds is ERR_COMPACTED', async (t) => {
  const server = await serverFor(t, 'ipc', { history: { revisions: 100 } })
  const { state } = await clientFor(server)
  await state.set('doc', { n: 1 })
  for (let i = 0; i < 200; i++) await state.set('other', i)
  await state.atomic((d) => {
    ;(d.doc as { n: number }).n = 2
  })
  const from = state.revision
  await assert.rejects(
    (async () => {
      for await (const change of state.watch({ key: 'doc', fromRevision: from })) void change
    })(),
    (error: unknown) =>
      isZStateError(error) &&
      error.code === 'ERR_COMPACTED' &&
      /last whole write of "doc"/.test(error.message),
  )
  // A watch of keys the patch does not touch replays as before.
  const others = state.watch({ key: 'other', fromRevision: from - 1 })
  assert.equal((await others.next()).value?.value, 199)
  await others.return!()
})
