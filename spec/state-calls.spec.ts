// What a client's state calls refuse and accept at their edges: arguments they do not take, options
// they do not know, predicates that cannot answer, the key a scope's prefix names, objects too wide
// for a 16-bit map header.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isZStateError } from '../lib/index.ts'
import { pair } from './support.ts'

const invalid = (error: unknown): boolean => isZStateError(error) && error.code === 'ERR_INVALID_ARGUMENT'

void test('state: writes refuse arguments they do not take, and nothing of them is written', async (t) => {
  const [a] = await pair(t)
  const state = a.state as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  await a.state.update({ 'jobs/1': 1, 'users/ann': 2 })
  const before = a.state.revision
  // clear('jobs/') would have cleared every key.
  await assert.rejects(
    state.clear!('jobs/'),
    (error: unknown) => invalid(error) && /scope\(prefix\)\.clear\(\)/.test((error as Error).message),
  )
  await assert.rejects(state.update!({ t: 1 }, { ttl: 100 }), invalid)
  await assert.rejects(state.increment!('n', 1, { bogus: 1 }), invalid)
  await assert.rejects(state.compareAndSet!('n', undefined, 2, { bogus: 1 }), invalid)
  await assert.rejects(state.delete!('jobs/1', { bogus: 1 }), invalid)
  await assert.rejects(state.set!('jobs/1', 3, {}, 'extra'), invalid)
  await assert.rejects(state.set!('jobs/1', 3, undefined, undefined), invalid)
  await assert.rejects(
    state.atomic!((draft: Record<string, unknown>) => void (draft['jobs/1'] = 3), {}, 'extra'),
    invalid,
  )
  assert.equal(await a.state.sync(), before, 'no commit')
  assert.deepEqual([...a.state.keys()].sort(), ['jobs/1', 'users/ann'])
  const cleared = await a.state.scope('jobs/').clear()
  assert.deepEqual([...a.state.keys()], ['users/ann'])
  assert.equal(cleared, a.state.revision, 'clear() resolves with its revision')
  assert.equal(await a.state.scope('jobs/').clear(), 0, 'and with 0 when it deleted nothing')
  assert.equal(await a.state.sync(), cleared, 'which committed nothing')
})

void test('state: sync() takes timeout and signal, and refuses what it does not know', async (t) => {
  const [a] = await pair(t)
  const reason = new Error('caller gave up')
  await assert.rejects(a.state.sync({ signal: AbortSignal.abort(reason) }), (error) => error === reason)
  await assert.rejects(a.state.sync({ bogus: 1 } as never), invalid)
  await assert.rejects(a.state.sync({ timeout: -1 }), invalid)
  await a.state.set('k', 1)
  assert.equal(await a.state.sync({ timeout: 10_000 }), a.state.revision)
})

void test('state: atomic refuses a linearizable that is not a boolean', async (t) => {
  const [a] = await pair(t)
  for (const linearizable of ['no', 0, 1, null])
    await assert.rejects(
      a.state.atomic(() => 1, { linearizable } as never),
      invalid,
    )
  assert.equal(await a.state.atomic(() => 1, { linearizable: false }), 1)
})

void test('state: an async predicate is refused, not taken as a match', async (t) => {
  const [a, b] = await pair(t)
  await a.state.set('job', { done: false })
  await b.state.sync()
  await assert.rejects(
    // Types refuse it too; JavaScript callers have none.
    b.state.when('job', (async (job: { done: boolean }) => job.done) as never, { timeout: 5_000 }),
    invalid,
  )
  await assert.rejects(b.state.when((async () => true) as never, { timeout: 5_000 }), invalid)
})

void test('state: in a scope, the key equal to its prefix is the key "" there, as the scope lists it', async (t) => {
  const [a, b] = await pair(t)
  await a.state.update({ user: { name: 'ann' }, 'user/settings': { dark: true } })
  await b.state.sync()
  const user = b.state.scope('user')
  assert.deepEqual([...user.keys()].sort(), ['', '/settings'])
  assert.deepEqual(user.get(''), { name: 'ann' })
  assert.equal(user.has(''), true)
  assert.deepEqual(await user.atomic((draft) => Object.keys(draft).sort()), ['', '/settings'])
  const changes = user.watch({ key: '' })
  await user.set('', { name: 'bob' })
  assert.deepEqual(b.state.get('user'), { name: 'bob' })
  const { value: change } = await changes.next()
  assert.deepEqual([change.key, change.value], ['', { name: 'bob' }])
  await changes.return?.()
  // Outside a scope no key is empty.
  assert.throws(() => b.state.get(''), invalid)
  assert.throws(() => b.state.watch({ key: '' }), invalid)
  await assert.rejects(b.state.set('', 1), invalid)
})

void test('state: an object of 65,536 keys or more is stored and read back by another client', async (t) => {
  const [a, b] = await pair(t)
  const wide = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))
  await a.state.set('wide', { inner: wide })
  await b.state.sync()
  const read = b.state.get('wide') as { inner: Record<string, number> }
  assert.equal(Object.keys(read.inner).length, 70_000)
  assert.equal(read.inner['k69999'], 69_999)
})

void test('state: whenEqual and whenNotEqual refuse an expected value the store cannot hold', async (t) => {
  const [a] = await pair(t)
  const unencodable = (error: unknown): boolean => isZStateError(error) && error.code === 'ERR_UNENCODABLE'
  // Never equal to a stored value: it waited out its timeout (or, not equal, matched at once).
  for (const expected of [() => 1, new Map([[1, 2]]), { when: new Set() }]) {
    await assert.rejects(a.state.whenEqual('k', expected, { timeout: 60_000 }), unencodable)
    await assert.rejects(a.state.whenNotEqual('k', expected, { timeout: 60_000 }), unencodable)
  }
  // undefined stands for absent, as in compareAndSet.
  assert.equal(await a.state.whenEqual('k', undefined, { timeout: 60_000 }), undefined)
  await a.state.set('k', { n: 1 })
  assert.deepEqual(await a.state.whenEqual('k', { n: 1 }, { timeout: 60_000 }), { n: 1 })
})
