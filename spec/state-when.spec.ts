import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { connect, isZStateError, TimeoutError } from '../lib/index.ts'
import { pair, serverFor } from './support.ts'

test('when: resolves at once when the predicate already holds, with the value', async (t) => {
  const [a] = await pair(t)
  await a.state.set('n', 5)
  assert.equal(await a.state.when('n', (v) => v === 5), 5)
  assert.equal(await a.state.whenEqual('n', 5), 5)
  assert.equal(await a.state.whenAvailable('n'), 5)
  assert.equal(await a.state.whenTruthy('n'), 5)
  assert.equal(await a.state.whenFalsy('missing'), undefined)
  assert.equal(await a.state.whenDeleted('missing'), undefined)
  assert.equal(await a.state.whenNotEqual('n', 4), 5)
})

test('when: waits for another client, skipping no committed value', async (t) => {
  const [a, b] = await pair(t)
  const seen: unknown[] = []
  const three = b.state.when('n', (v) => {
    seen.push(v)
    return v === 3
  })
  for (let i = 1; i <= 5; i++) await a.state.set('n', i)
  assert.equal(await three, 3)
  assert.deepEqual(seen, [undefined, 1, 2, 3])
  // changed: true skips the current value even though it matches (b first catches up with 4 and 5).
  await b.state.sync()
  const next = b.state.when('n', (v) => typeof v === 'number', { changed: true })
  await a.state.set('n', 6)
  assert.equal(await next, 6)
})

test('when: whole-state predicates see every revision and resolve with the snapshot', async (t) => {
  const [a, b] = await pair(t)
  const both = b.state.when((view) => view.get('x') === 1 && view.get('y') === 2)
  await a.state.set('x', 1)
  await a.state.set('y', 2)
  const snapshot = await both
  assert.deepEqual(snapshot, { x: 1, y: 2 })
  assert.ok(Object.isFrozen(snapshot))
})

// A ZProc port writes `lambda s: s["x"] == 1` as `(v) => v.x === 1`: on a Map-like view that read
// undefined for ever, and the waiter never resolved.
test('when: a whole-state view read like an object (view.x) throws, naming view.get', async (t) => {
  const [a] = await pair(t)
  await a.state.set('x', 1)
  const asObject = (view: any): boolean => view.x === 1
  await assert.rejects(a.state.when(asObject, { timeout: 5000 }), {
    name: 'TypeError',
    message: /view\.get\("x"\), not view\.x/,
  })
  // Its own members, and then (a view may pass through await), still read as they are.
  const members = await a.state.when((view) => {
    const shown = view as unknown as Record<string, unknown>
    return view.size === 1 && view.revision > 0 && shown['then'] === undefined && view.has('x')
  })
  assert.deepEqual(members, { x: 1 })
})

test('when: whenChange resolves with the change of the first later revision writing a key', async (t) => {
  const [a, b] = await pair(t)
  await a.state.set('k', 'old')
  await b.state.sync()
  const change = b.state.whenChange(['k', 'other'])
  const revision = await a.state.set('k', 'new')
  assert.deepEqual(await change, { key: 'k', value: 'new', previous: 'old', deleted: false, revision })
  const deletion = b.state.whenDeleted('k')
  await a.state.delete('k')
  assert.equal(await deletion, undefined)
})

test('when: timeout rejects with ERR_TIMEOUT, a signal with its reason, and nothing is left behind', async (t) => {
  const [, b] = await pair(t)
  // Every timer armed with a waiter's timeout must be cleared once the waiter settles.
  const armed: NodeJS.Timeout[] = []
  const original = globalThis.setTimeout
  t.mock.method(globalThis, 'setTimeout', (fn: () => void, ms?: number) => {
    const timer = original(fn, ms)
    if (ms === 60_000) armed.push(timer)
    return timer
  })
  await assert.rejects(
    b.state.when('never', (v) => v === 1, { timeout: 1 }),
    (e: unknown) => isZStateError(e) && e.code === 'ERR_TIMEOUT',
  )
  const controller = new AbortController()
  const reason = new Error('my reason')
  const pending = b.state.whenTruthy('never', { signal: controller.signal, timeout: 60_000 })
  controller.abort(reason)
  await assert.rejects(pending, (e) => e === reason)
  const aborted = AbortSignal.abort('already')
  await assert.rejects(b.state.whenTruthy('never', { signal: aborted }), (e) => e === 'already')
  const kept = new AbortController()
  await b.state.set('now', 1)
  await b.state.whenEqual('now', 1, { signal: kept.signal, timeout: 60_000 })
  const later = b.state.whenEqual('now', 2, { signal: kept.signal, timeout: 60_000 })
  await b.state.set('now', 2)
  await later
  t.mock.restoreAll()
  assert.equal(armed.length, 2, 'both waiting calls armed a timer')
  assert.ok(
    armed.every((timer) => (timer as unknown as { _destroyed: boolean })._destroyed),
    'every timer was cleared',
  )
  assert.equal(getEventListeners(kept.signal, 'abort').length, 0, 'no abort listeners left')
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
  const boom = new Error('predicate threw')
  await assert.rejects(
    b.state.when('x', () => {
      throw boom
    }),
    (e) => e === boom,
  )
  await assert.rejects(
    b.state.when('x', (v) => v === 1, { timeout: -1 }),
    (e: unknown) => isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT',
  )
})

test('when: a timeout names what it waited for and carries the caller’s stack', async (t) => {
  const [a] = await pair(t)
  const waits: [Promise<unknown>, string][] = [
    [a.state.when('count', (v) => v === 1, { timeout: 1 }), "when('count')"],
    [a.state.whenEqual('k', 1, { timeout: 1 }), "whenEqual('k')"],
    [a.state.when(() => false, { timeout: 1 }), 'when(predicate)'],
    [a.state.whenChange(['x', 'y'], { timeout: 1 }), "whenChange(['x', 'y'])"],
    [a.state.scope('users/').whenAvailable('ann', { timeout: 1 }), "whenAvailable('ann')"],
  ]
  for (const [wait, what] of waits) {
    const error = await wait.then(
      () => assert.fail(`${what} resolved`),
      (e: unknown) => e,
    )
    assert.ok(error instanceof TimeoutError && error.code === 'ERR_TIMEOUT', what)
    assert.equal(error.message, `${what} timed out after 1 ms`)
    const stack = error.stack ?? ''
    assert.ok(stack.startsWith(`TimeoutError: ${what} timed out after 1 ms\n`), stack)
    assert.match(stack, /state-when\.spec\.ts/, 'the frame that called it')
  }
})

test('when: closing the client rejects pending waiters with ERR_CLOSED', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await connect(server.address)
  await client.state.set('held', 1)
  const pending = client.state.whenTruthy('never')
  await client.close()
  const closed = (e: unknown): boolean => isZStateError(e) && e.code === 'ERR_CLOSED'
  await assert.rejects(pending, closed)
  // Made after close(), even one whose condition the last replica meets.
  await assert.rejects(client.state.whenTruthy('never'), closed)
  await assert.rejects(client.state.whenTruthy('held'), closed)
  await assert.rejects(
    client.state.when(() => true),
    closed,
  )
  await assert.rejects(client.state.whenEqual('held', 1), closed)
  assert.equal(client.state.get('held'), 1, 'reads keep the last replica')
  assert.deepEqual(await client.state.watch().next(), { done: true, value: undefined })
})

test('when: an aborted signal wins even over a condition that already holds', async (t) => {
  const [a] = await pair(t)
  await a.state.set('n', 1)
  const signal = AbortSignal.abort('stop')
  await assert.rejects(a.state.whenEqual('n', 1, { signal }), (e) => e === 'stop')
})

test('when: a waiter that a revision meets has settled when the writer’s own call at that revision resumes', async (t) => {
  const [a] = await pair(t)
  await a.state.set('gone', 1)
  const order: string[] = []
  const met = (name: string) => (): void => void order.push(name)
  // Every method of the family, met by one plain write.
  void a.state.when('k', (v) => v === 1).then(met('when'))
  void a.state.when((view) => view.get('k') === 1).then(met('when(predicate)'))
  void a.state.whenChange('k').then(met('whenChange'))
  void a.state.whenEqual('k', 1).then(met('whenEqual'))
  void a.state.whenNotEqual('k', undefined).then(met('whenNotEqual'))
  void a.state.whenTruthy('k').then(met('whenTruthy'))
  void a.state.whenAvailable('k').then(met('whenAvailable'))
  await a.state.set('k', 1)
  assert.equal(order.length, 7, order.join(', '))
  void a.state.whenFalsy('gone').then(met('whenFalsy'))
  void a.state.whenDeleted('gone').then(met('whenDeleted'))
  await a.state.delete('gone')
  assert.deepEqual(order.slice(7), ['whenFalsy', 'whenDeleted'])
  // A waiter's synchronous refusals still come as rejections.
  await assert.rejects(a.state.whenEqual('__proto__', 1), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(a.state.whenChange([]), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(a.state.when('k', 5 as never), { code: 'ERR_INVALID_ARGUMENT' })
})

test('subscribe: one call per revision, in order, listeners before waiters before own writes resolve', async (t) => {
  const [a] = await pair(t)
  const order: string[] = []
  const warnings: string[] = []
  const onWarning = (w: Error): void => void warnings.push(w.message)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const stop = a.state.subscribe((event) => {
    order.push(`listener ${event.revision} ${event.changes.map((c) => c.key).join(',')}`)
  })
  a.state.subscribe(() => {
    throw new Error('listener failure')
  })
  const waiter = a.state.whenEqual('k', 2).then(() => order.push('waiter'))
  const r1 = await a.state.set('k', 1)
  order.push('set 1')
  await a.state.update({ k: 2, j: 3 })
  order.push('update')
  await waiter
  stop()
  await a.state.set('k', 3)
  assert.deepEqual(order, [`listener ${r1} k`, 'set 1', `listener ${r1 + 1} k,j`, 'waiter', 'update'])
  await a.state.sync()
  assert.ok(warnings.some((w) => w.includes('listener failure')))
})
