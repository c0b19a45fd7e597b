import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { inspect } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pack, unpack } from 'msgpackr'
import { startServer, type StatusEvent } from '../lib/index.ts'
import { Replica } from '../lib/client/replica.ts'
import { ChangeKind } from '../lib/protocol/ops.ts'
import { bigMapVisits } from './map-visits.ts'
import { clientFor, pair, serverFor } from './support.ts'

test('snapshot: behaves like a frozen plain object', async (t) => {
  const [a] = await pair<any>(t)
  await a.state.update({ n: 1, doc: { tags: ['x'] }, '10': 'ten', s: 'text' })
  const snapshot = a.state.snapshot()
  assert.equal(a.state.snapshot(), snapshot, 'the same object within a revision')
  assert.equal(snapshot.n, 1)
  assert.equal(snapshot.doc, a.state.get('doc'), 'values are the replica’s own, not copies')
  assert.equal(snapshot.missing, undefined)
  assert.ok('n' in snapshot && !('missing' in snapshot) && 'toString' in snapshot)
  assert.ok(Object.hasOwn(snapshot, 'n') && !Object.hasOwn(snapshot, 'toString'))
  assert.equal(Object.getPrototypeOf(snapshot), Object.prototype)
  assert.equal(String(snapshot), '[object Object]')
  const plain = { '10': 'ten', n: 1, doc: { tags: ['x'] }, s: 'text' }
  assert.deepEqual(snapshot, plain)
  assert.deepEqual(Object.keys(snapshot), ['10', 'n', 'doc', 's'])
  assert.deepEqual(Object.values(snapshot), Object.values(plain))
  assert.deepEqual(Object.entries(snapshot), Object.entries(plain))
  const forIn: string[] = []
  for (const key in snapshot) forIn.push(key)
  assert.deepEqual(forIn, ['10', 'n', 'doc', 's'])
  const copy = { ...snapshot }
  assert.equal(Object.getPrototypeOf(copy), Object.prototype)
  assert.deepEqual(structuredClone(copy), plain, 'a spread copy is a plain object')
  assert.throws(() => structuredClone(snapshot), { name: 'DataCloneError' })
  assert.equal(JSON.stringify(snapshot), JSON.stringify(plain))
  assert.ok(Object.isFrozen(snapshot) && Object.isSealed(snapshot) && !Object.isExtensible(snapshot))
  assert.ok(Object.isFrozen(snapshot.doc))
  const descriptor = Object.getOwnPropertyDescriptor(snapshot, 'n')
  assert.deepEqual(descriptor, { value: 1, writable: false, enumerable: true, configurable: false })
  assert.throws(() => ((snapshot as any).n = 2), TypeError)
  assert.throws(() => ((snapshot as any).added = 2), TypeError)
  assert.throws(() => delete (snapshot as any).n, TypeError)
  assert.throws(() => Object.defineProperty(snapshot, 'added', { value: 1 }), TypeError)
  assert.throws(() => Object.setPrototypeOf(snapshot, null), TypeError)
  assert.equal(Object.freeze(snapshot), snapshot)
  assert.equal(snapshot.n, 1)
  assert.equal(inspect(snapshot), inspect(plain))
  assert.equal(inspect({ nested: snapshot }, { depth: 0 }), '{ nested: [Object] }')
  assert.deepEqual(unpack(pack(snapshot)), plain)
})

test('snapshot: single-key reads and failed writes never enumerate the store', async (t) => {
  const [a] = await pair<any>(t)
  await a.state.update(Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i])))
  const s = a.state.snapshot()
  const visits = await bigMapVisits(1_000, async () => {
    assert.equal(s.k1, 1)
    assert.ok('k2' in s && !('missing' in s))
    assert.ok(Object.hasOwn(s, 'k3') && !Object.hasOwn(s, 'missing'))
    assert.deepEqual(Object.getOwnPropertyDescriptor(s, 'k4'), {
      value: 4,
      writable: false,
      enumerable: true,
      configurable: false,
    })
    assert.equal(Object.getOwnPropertyDescriptor(s, 'missing'), undefined)
    assert.throws(() => ((s as any).k1 = 2), TypeError)
    assert.throws(() => delete (s as any).k1, TypeError)
    assert.equal(delete (s as any).missing, true, 'as on a frozen object')
  })
  assert.equal(visits, 0)
  assert.ok(Object.isFrozen(s))
  assert.equal(Object.keys(s).length, 1_000)
  assert.equal(s.k4, 4)
})

test('snapshot: keeps showing its revision after later sets, deletes, patches and a clear', async (t) => {
  const [a, b] = await pair<any>(t)
  await a.state.update({ keep: 1, change: 'old', gone: true, doc: { n: 1, list: [1] } })
  await b.state.sync()
  const before = b.state.snapshot() // untouched until the end
  const revision = b.state.revision
  await a.state.set('change', 'new')
  await a.state.delete('gone')
  await a.state.set('added', 1)
  await a.state.atomic((d: any) => void d.doc.list.push(2))
  await b.state.sync()
  const middle = b.state.snapshot()
  assert.notEqual(middle, before)
  assert.equal(Object.keys(middle).length, 4) // copied now, then kept as it is
  await a.state.set('change', 'newer')
  await a.state.clear()
  await a.state.set('after', 1)
  await b.state.sync()
  assert.ok(b.state.revision > revision)
  const expected = { keep: 1, change: 'old', gone: true, doc: { n: 1, list: [1] } }
  assert.equal(before.change, 'old')
  assert.ok('gone' in before && !('added' in before) && !('after' in before))
  assert.deepEqual(before, expected)
  assert.deepEqual(middle, { keep: 1, change: 'new', added: 1, doc: { n: 1, list: [1, 2] } })
  assert.deepEqual(b.state.snapshot(), { after: 1 })
})

test('snapshot: a scope gives the same kind of object, unprefixed, only its keys', async (t) => {
  const [a, b] = await pair<any>(t)
  await a.state.update({ 'p:a': 1, 'p:b': { x: 2 }, 'q:a': 3, p: 4 })
  await b.state.sync()
  const scope = b.state.scope('p:')
  const snapshot = scope.snapshot()
  assert.equal(scope.snapshot(), snapshot)
  assert.equal(snapshot.a, 1)
  assert.ok(!('q:a' in snapshot) && !('p:a' in snapshot) && !(':a' in snapshot))
  await a.state.set('p:c', 5)
  await a.state.delete('p:a')
  await b.state.sync()
  assert.deepEqual(snapshot, { a: 1, b: { x: 2 } })
  assert.deepEqual(Object.keys(snapshot).sort(), ['a', 'b']) // a key deleted since comes last
  assert.ok(Object.isFrozen(snapshot))
  assert.deepEqual(scope.snapshot(), { b: { x: 2 }, c: 5 })
  assert.deepEqual(b.state.scope('p:').scope('z:').snapshot(), {})
  assert.equal(inspect(scope.snapshot()), inspect({ b: { x: 2 }, c: 5 }))
  // A key whose scoped name is "__proto__" is an entry like any other, never the prototype.
  await a.state.set('p:__proto__', { evil: true })
  await b.state.sync()
  const proto = scope.snapshot()
  assert.deepEqual(Object.keys(proto).sort(), ['__proto__', 'b', 'c'])
  assert.equal(Object.getPrototypeOf(proto), Object.prototype)
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, { evil: true })
  assert.equal((proto as { evil?: unknown }).evil, undefined)
})

test('snapshot: a whole-state when resolves with the snapshot of the matching revision', async (t) => {
  const [a, b] = await pair<any>(t)
  const matched = b.state.when((view) => view.get('n') === 2)
  const scoped = b.state.scope('p:').when((view) => view.get('n') === 2)
  await a.state.update({ n: 2, 'p:n': 2 })
  await a.state.set('n', 3)
  await a.state.set('p:n', 3)
  await b.state.sync()
  assert.deepEqual(await matched, { n: 2, 'p:n': 2 })
  assert.deepEqual(await scoped, { n: 2 })
  assert.ok(Object.isFrozen(await matched))
})

test('snapshot: a resync keeps existing snapshots at their revision', async (t) => {
  const first = await serverFor(t, 'ipc', { heartbeatMs: 50 })
  const a = await clientFor<any>(first)
  await a.state.update({ x: 1, 'p:y': 2 })
  const old = a.state.snapshot() // untouched until the end
  const scoped = a.state.scope('p:').snapshot()
  assert.deepEqual(Object.keys(scoped), ['y'])
  await a.state.set('x', 2)
  const enumerated = a.state.snapshot()
  assert.deepEqual(Object.keys(enumerated), ['x', 'p:y'])
  const events = a.status()[Symbol.asyncIterator]()
  await first.close()
  // On the same address. Its close is added after serverFor's hook, which closes `a` first.
  const second = await startServer({ address: first.address, heartbeatMs: 50 })
  t.after(() => second.close())
  for (;;) {
    const { value } = (await events.next()) as { value: StatusEvent }
    if (value.type === 'reset') break
  }
  await events.return?.()
  assert.deepEqual(a.state.snapshot(), {})
  await a.state.set('x', 'new')
  assert.equal(old.x, 1)
  assert.deepEqual(old, { x: 1, 'p:y': 2 })
  assert.deepEqual(scoped, { y: 2 })
  assert.deepEqual(enumerated, { x: 2, 'p:y': 2 })
  assert.deepEqual(a.state.snapshot(), { x: 'new' })
})

test('snapshot: snapshots and whole-state whens never walk a store of 100,000 keys', async (t) => {
  const [a] = await pair<any>(t)
  for (let i = 0; i < 10; i++)
    await a.state.update(Object.fromEntries(Array.from({ length: 10_000 }, (_, j) => [`b${i}-${j}`, j])))
  await a.state.set('hot', -1)
  const held: Record<string, unknown>[] = []
  const revisions = async (): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const matched = a.state.when((view) => view.get('hot') === i)
      const scoped = a.state.scope('h').when((view) => view.get('ot') === i)
      await a.state.set('hot', i)
      assert.equal((await matched).hot, i)
      assert.equal((await scoped).ot, i)
      const snapshot = a.state.snapshot()
      assert.equal(snapshot.hot, i)
      assert.equal(snapshot['b9-9999'], 9999)
      if (i % 50 === 0) held.push(snapshot) // a few held across many later revisions
    }
  }
  // An O(store) step in 200 revisions would visit 200 × 100,001 entries; not even one pass is allowed.
  assert.equal(await bigMapVisits(100_000, revisions), 0)
  assert.deepEqual(
    held.map((s) => s.hot),
    [0, 50, 100, 150],
  )
  // The counter does see a whole pass: enumerating a snapshot is O(keys).
  assert.ok((await bigMapVisits(100_000, async () => void Object.keys(a.state.snapshot()))) >= 100_000)
})

// Replica-level: views are released by garbage collection, and old values are kept only for them.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function collected(replica: Replica, views: number): Promise<void> {
  for (let i = 0; i < 100 && replica.retained.views > views; i++) {
    gc()
    await turn()
  }
  assert.equal(replica.retained.views, views)
}

test('snapshot: a snapshot collected by GC is no longer kept up to date', async () => {
  const replica = new Replica()
  replica.reset('e', 0, [['hot', 0]], () => true)
  const set = (revision: number, value: unknown): void =>
    void replica.apply(revision, [['hot', ChangeKind.SET, value]], undefined)
  // Dropped at once: each is collected, and then a change keeps nothing.
  ;(() => {
    for (let r = 1; r <= 100; r++) {
      assert.equal(replica.snapshot().hot, r - 1)
      set(r, r)
    }
  })()
  assert.ok(replica.retained.views > 0)
  await collected(replica, 0)
  set(101, 101)
  assert.deepEqual(replica.retained, { views: 0, saved: 0 })

  // One held for long, one taken every revision and dropped: what is kept stays bounded.
  const first = replica.snapshot()
  const later: Record<string, unknown>[] = []
  ;(() => {
    for (let r = 102; r <= 20_000; r++) {
      if (r % 5_000 === 0) later.push(replica.snapshot())
      else replica.snapshot()
      set(r, r)
    }
  })()
  await collected(replica, 1 + later.length)
  set(20_001, 'last')
  assert.ok(replica.retained.saved <= 2_048, `kept ${replica.retained.saved} old values`)
  assert.equal(first.hot, 101)
  assert.deepEqual(
    later.map((s) => s.hot),
    [4_999, 9_999, 14_999, 19_999],
  )
  assert.equal(replica.snapshot().hot, 'last')
})

test('snapshot: views at random revisions agree with copies taken then, through compactions', () => {
  let seed = 42
  const random = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return Math.floor((seed / 2_147_483_648) * n)
  }
  const replica = new Replica()
  replica.reset('e', 0, [], () => true)
  const open: { view: ReturnType<Replica['openView']>; copy: Map<string, unknown> }[] = []
  const held: { snapshot: Record<string, unknown>; copy: Record<string, unknown> }[] = []
  const check = (): void => {
    for (const { view, copy } of open) {
      assert.deepEqual(new Map([...view.keys()].map((k) => [k, view.get(k)])), copy)
      for (const key of ['k0', 'k1', 'k7', 'absent']) assert.equal(view.has(key), copy.has(key))
    }
    for (const { snapshot, copy } of held)
      for (const key of ['k0', 'k3']) assert.equal(snapshot[key], copy[key])
  }
  let revision = 0
  for (let step = 0; step < 20_000; step++) {
    const roll = random(4_000)
    if (roll < 2) {
      revision++
      replica.apply(revision, [[null, ChangeKind.CLEAR]], undefined)
    } else if (roll < 3) {
      revision += 3
      const entries = Array.from({ length: random(5) }, (_, i) => [`k${i}`, `reset${step}`] as const)
      replica.reset('e', revision, entries, () => true)
    } else {
      revision++
      const changes = Array.from({ length: 1 + random(3) }, () => {
        const key = `k${random(8)}`
        return random(4) === 0 ? ([key, ChangeKind.DELETE] as const) : ([key, ChangeKind.SET, step] as const)
      })
      replica.apply(revision, changes, undefined)
    }
    if (random(3) === 0) open.push({ view: replica.openView(), copy: new Map(replica.data) })
    if (random(10) === 0) held.push({ snapshot: replica.snapshot(), copy: Object.fromEntries(replica.data) })
    // Views close in any order; most soon, a few late, so the log compacts around long-lived ones.
    while (open.length > 40 || (open.length > 0 && random(3) === 0)) {
      const [closing] = open.splice(random(4) === 0 ? 0 : random(open.length), 1)
      closing!.view.close()
    }
    if (step % 97 === 0) check()
  }
  check()
  for (const { snapshot, copy } of held) assert.deepEqual(snapshot, copy)
})
