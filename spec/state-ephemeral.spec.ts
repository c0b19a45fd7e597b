// Ephemeral and expiring keys (API.md "Ephemeral keys"): `set(key, value, { ephemeral: true })` lives
// as long as its writer's session, `{ ttl }` until it is not written again for ttl ms. Their
// deletions are ordinary revisions that watchers see; any write without options makes a key
// permanent again; a restart ends every session but keeps each ttl's absolute expiry.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  connect,
  isZStateError,
  startServer,
  type Change,
  type SetOptions,
  type State,
} from '../lib/index.ts'
import { Op, Status } from '../lib/protocol/ops.ts'
import { SLOT_MS } from '../lib/server/leases.ts'
import { rawPeer } from './raw-peer.ts'
import { addressFor, clientFor, fixture, serverFor, tempDir } from './support.ts'

const actions = new URL('./fixtures/actions.mjs', import.meta.url)

// Every wait on a condition is bounded by this much unless it says otherwise.
const WAIT_MS = 5_000
// A ttl key is deleted between ttl and ttl + 1 s after its last write. Upper bounds allow this much
// more for a loaded machine; lower bounds this much less for clocks that count whole ms.
const SWEEP_WINDOW_MS = 1_000
const SLACK_MS = 500
const CLOCK_MS = 2
// The longest ttl there is: 365 days.
const MAX_TTL_MS = 31_536_000_000

// A deletion as watchers see it.
function deletion(key: string, previous: unknown, revision: number): Change {
  return { key, value: undefined, previous, deleted: true, revision }
}

const byKey = (a: Change, b: Change): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

// The changes `changes` yields before the write of the key `sentinel` (which the caller makes once
// what it waits for has happened): the stream is ordered, so nothing committed before it is missed.
async function until(changes: AsyncIterable<Change>, sentinel: string): Promise<Change[]> {
  const seen: Change[] = []
  for await (const change of changes) {
    if (change.key === sentinel) return seen
    seen.push(change)
  }
  throw new Error(`the watch ended before ${sentinel} was written`)
}

// Keys that get a lease and are then written again, each by one write method without options; what
// they hold afterwards; and those writes.
const REWRITTEN_KEYS = ['by:set', 'by:options', 'by:update', 'by:increment', 'by:cas', 'by:atomic', 'by:run']
const REWRITTEN = {
  'by:set': 2,
  'by:options': 2,
  'by:update': 2,
  'by:increment': 2,
  'by:cas': 2,
  'by:atomic': { n: 2 },
  'by:run': 2,
}
const firstValue = (key: string): unknown => (key === 'by:atomic' ? { n: 1 } : 1)

// `noLease`: the options of the set that carries options but asks for no lease.
async function rewriteEach(state: State, noLease: SetOptions): Promise<void> {
  await state.set('by:set', 2)
  await state.set('by:options', 2, noLease)
  await state.update({ 'by:update': 2 })
  assert.equal(await state.increment('by:increment'), 2)
  assert.equal(await state.compareAndSet('by:cas', 1, 2), true)
  // A change inside the value: committed as a patch.
  await state.atomic((draft) => {
    const value = draft['by:atomic'] as { n: number }
    value.n = 2
  })
  assert.equal(await state.run('increment', 'by:run'), 2)
}

test('ephemeral: a client’s ephemeral keys are deleted in one revision when it closes; the rest stay', async (t) => {
  const server = await serverFor(t, 'ipc')
  const owner = await clientFor(server)
  const watcher = await clientFor(server)
  await owner.state.set('perm', 'stays')
  await owner.state.set('e:string', 'a', { ephemeral: true })
  await owner.state.set('e:object', { n: 1 }, { ephemeral: true })
  await owner.state.set('e:ttl', 3, { ephemeral: true, ttl: 60_000 })
  // Already gone when its owner closes: nothing of it is left to delete then.
  await owner.state.set('e:deleted', 4, { ephemeral: true })
  assert.equal(await owner.state.delete('e:deleted'), true)
  // The watcher's own ephemeral key belongs to the watcher's session, not the owner's.
  await watcher.state.set('w:e', 'watcher', { ephemeral: true })
  const last = await watcher.state.sync()
  assert.deepEqual(
    { ...watcher.state.snapshot() },
    { perm: 'stays', 'e:string': 'a', 'e:object': { n: 1 }, 'e:ttl': 3, 'w:e': 'watcher' },
  )

  const changes = watcher.state.watch({ signal: t.signal })
  await owner.close()
  await watcher.state.when((s) => !s.has('e:string') && !s.has('e:object') && !s.has('e:ttl'), {
    timeout: WAIT_MS,
  })
  await watcher.state.set('sentinel', true)
  assert.deepEqual((await until(changes, 'sentinel')).sort(byKey), [
    deletion('e:object', { n: 1 }, last + 1),
    deletion('e:string', 'a', last + 1),
    deletion('e:ttl', 3, last + 1),
  ])
  assert.equal(watcher.state.revision, last + 2)
  assert.deepEqual({ ...watcher.state.snapshot() }, { perm: 'stays', 'w:e': 'watcher', sentinel: true })
})

test('ephemeral: any later write of the key without options, by any method, makes it permanent', async (t) => {
  const server = await serverFor(t, 'ipc', { actions })
  const owner = await clientFor(server)
  const watcher = await clientFor(server)
  for (const key of REWRITTEN_KEYS) await owner.state.set(key, firstValue(key), { ephemeral: true })
  await owner.state.set('cas-missed', 1, { ephemeral: true })
  await owner.state.set('still', 1, { ephemeral: true })

  await rewriteEach(owner.state, { ephemeral: false })
  // A compareAndSet that does not match writes nothing: the key stays ephemeral.
  assert.equal(await owner.state.compareAndSet('cas-missed', 0, 2), false)
  const last = await watcher.state.sync()

  const changes = watcher.state.watch({ signal: t.signal })
  await owner.close()
  await watcher.state.whenDeleted('still', { timeout: WAIT_MS })
  await watcher.state.set('sentinel', true)
  assert.deepEqual((await until(changes, 'sentinel')).sort(byKey), [
    deletion('cas-missed', 1, last + 1),
    deletion('still', 1, last + 1),
  ])
  assert.deepEqual({ ...watcher.state.snapshot() }, { ...REWRITTEN, sentinel: true })
})

test('ephemeral: another client’s plain set makes the key permanent, its ephemeral set makes the key its own', async (t) => {
  const server = await serverFor(t, 'ipc')
  const first = await clientFor(server)
  const second = await clientFor(server)
  const watcher = await clientFor(server)
  await first.state.set('taken', 'first', { ephemeral: true })
  await first.state.set('moved', 'first', { ephemeral: true })
  await first.state.set('mine', 'first', { ephemeral: true })
  await second.state.set('taken', 'second')
  await second.state.set('moved', 'second', { ephemeral: true })
  const last = await watcher.state.sync()

  const changes = watcher.state.watch({ signal: t.signal })
  await first.close()
  await watcher.state.whenDeleted('mine', { timeout: WAIT_MS })
  assert.deepEqual({ ...watcher.state.snapshot() }, { taken: 'second', moved: 'second' })
  await second.close()
  await watcher.state.whenDeleted('moved', { timeout: WAIT_MS })
  await watcher.state.set('sentinel', true)
  assert.deepEqual(await until(changes, 'sentinel'), [
    deletion('mine', 'first', last + 1),
    deletion('moved', 'second', last + 2),
  ])
  assert.deepEqual({ ...watcher.state.snapshot() }, { taken: 'second', sentinel: true })
})

// The server forgets a session silent for 10 heartbeats: 1 s here.
const HEARTBEAT_MS = 100
const EXPIRY_MS = 10 * HEARTBEAT_MS

test('ephemeral: a client killed with SIGKILL loses its ephemeral keys, in one revision, once its session expires', async (t) => {
  const server = await serverFor(t, 'ipc', { heartbeatMs: HEARTBEAT_MS })
  const owner = fixture(t, 'ephemeral-owner', [server.address])
  await owner.event(1) // 'ready'
  await owner.call('set', 'perm', 'stays')
  await owner.call('set', 'e:1', 1, { ephemeral: true })
  await owner.call('set', 'e:2', 2, { ephemeral: true })
  await owner.call('set', 'e:ttl', 3, { ephemeral: true, ttl: 60_000 })
  const watcher = await clientFor(server)
  await watcher.state.set('w:e', 'watcher', { ephemeral: true })
  const last = await watcher.state.sync()
  assert.deepEqual(
    { ...watcher.state.snapshot() },
    { perm: 'stays', 'e:1': 1, 'e:2': 2, 'e:ttl': 3, 'w:e': 'watcher' },
  )
  assert.equal((await watcher.server()).clients, 2)

  const changes = watcher.state.watch({ signal: t.signal })
  owner.child.kill('SIGKILL')
  assert.deepEqual(await owner.exited, { code: null, signal: 'SIGKILL' })
  // Gone once the server forgets the silent session (10 heartbeats), or sooner if it learns the
  // process died; the bound is several expiry periods, for a loaded machine.
  await watcher.state.when((s) => !s.has('e:1') && !s.has('e:2') && !s.has('e:ttl'), {
    timeout: EXPIRY_MS * 4,
  })
  await watcher.state.set('sentinel', true)
  assert.deepEqual((await until(changes, 'sentinel')).sort(byKey), [
    deletion('e:1', 1, last + 1),
    deletion('e:2', 2, last + 1),
    deletion('e:ttl', 3, last + 1),
  ])
  assert.deepEqual({ ...watcher.state.snapshot() }, { perm: 'stays', 'w:e': 'watcher', sentinel: true })
  assert.equal((await watcher.server()).clients, 1, 'the killed client’s session was forgotten')
})

const TTL_MS = 300
// Longer than TTL_MS + 1.5 s: once a key with it is deleted, the first ttl is long past.
const RENEWED_TTL_MS = 2_000

test('ttl: a key goes between ttl and ttl + 1 s after its last write; a write without ttl makes it permanent', async (t) => {
  const server = await serverFor(t, 'ipc', { actions })
  const a = await clientFor(server)
  const b = await clientFor(server)
  const changes = b.state.watch({ signal: t.signal })

  // Expires while its writer stays connected; so does a key that is ephemeral too.
  const shortSent = performance.now()
  await a.state.set('short', 's', { ttl: TTL_MS })
  const shortSet = performance.now()
  const shortGone = a.state.whenDeleted('short', { timeout: WAIT_MS }).then(() => performance.now())
  await a.state.set('both', 'b', { ephemeral: true, ttl: TTL_MS })

  // Keys whose ttl is replaced, a few ms later and long before it runs out, by a write of each kind.
  const leased = ['renewed', 'to-ephemeral', ...REWRITTEN_KEYS, 'by:other']
  for (const key of leased) await a.state.set(key, firstValue(key), { ttl: TTL_MS })
  // Its ttl starts last: once it is deleted, the first deadline of every key above has passed.
  await a.state.set('marker', true, { ttl: TTL_MS })
  const renewSent = performance.now()
  await a.state.set('renewed', 2, { ttl: RENEWED_TTL_MS })
  const renewSet = performance.now()
  await a.state.set('to-ephemeral', 2, { ephemeral: true })
  await rewriteEach(a.state, {})
  await b.state.set('by:other', 2)

  await a.state.whenDeleted('marker', { timeout: WAIT_MS })
  for (const key of leased) assert.equal(a.state.has(key), true, `${key} outlived its first ttl`)
  const shortAt = await shortGone
  assert.ok(shortAt - shortSent >= TTL_MS - CLOCK_MS, `deleted ${shortAt - shortSent} ms after the set`)
  assert.ok(
    shortAt - shortSet <= TTL_MS + SWEEP_WINDOW_MS + SLACK_MS,
    `deleted ${shortAt - shortSet} ms after the set`,
  )

  // Its last write's ttl counts: deleted between 2 s and 3 s after it.
  await a.state.whenDeleted('renewed', { timeout: RENEWED_TTL_MS + WAIT_MS })
  const renewedAt = performance.now()
  assert.ok(
    renewedAt - renewSent >= RENEWED_TTL_MS - CLOCK_MS,
    `deleted ${renewedAt - renewSent} ms after the renewal`,
  )
  assert.ok(
    renewedAt - renewSet <= RENEWED_TTL_MS + SWEEP_WINDOW_MS + SLACK_MS,
    `deleted ${renewedAt - renewSet} ms after the renewal`,
  )
  // More than ttl + 1.5 s after their ttl began, the rewritten keys are still there, and nothing
  // but the four expired keys was ever deleted.
  await b.state.set('sentinel', true)
  const deletions = (await until(changes, 'sentinel')).filter((change) => change.deleted).sort(byKey)
  assert.deepEqual(
    deletions.map(({ key, value, previous }) => ({ key, value, previous })),
    [
      { key: 'both', value: undefined, previous: 'b' },
      { key: 'marker', value: undefined, previous: true },
      { key: 'renewed', value: undefined, previous: 2 },
      { key: 'short', value: undefined, previous: 's' },
    ],
  )
  const permanent = { ...REWRITTEN, 'by:other': 2, sentinel: true }
  assert.deepEqual({ ...b.state.snapshot() }, { ...permanent, 'to-ephemeral': 2 })

  // Its ttl gave way to ephemeral: it goes with its writer's session instead.
  const last = await b.state.sync()
  await a.close()
  await b.state.whenDeleted('to-ephemeral', { timeout: WAIT_MS })
  assert.equal(b.state.revision, last + 1)
  assert.deepEqual({ ...b.state.snapshot() }, permanent)
})

// Leader election in one call: the key is taken only if absent, and goes with its taker's session.
test('compareAndSet with a lease: a leader elected with { ephemeral: true } holds the key until its session ends, { ttl } expires, a miss leaves the lease alone', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor(server)
  const b = await clientFor(server)
  const c = await clientFor(server)
  const watcher = await clientFor(server)
  assert.equal(await a.state.compareAndSet('leader', undefined, 'a', { ephemeral: true }), true)
  assert.equal(await b.state.compareAndSet('leader', undefined, 'b', { ephemeral: true }), false)
  // Would make the key b's, or permanent, had it matched: it did not, so the key stays a's.
  assert.equal(await b.state.compareAndSet('leader', 'x', 'b', { ephemeral: true }), false)
  assert.equal(await c.state.compareAndSet('leader', 'x', 'c'), false)
  assert.equal(await b.state.compareAndSet('lock', undefined, 'b', { ttl: TTL_MS }), true)
  await watcher.state.whenDeleted('lock', { timeout: WAIT_MS })
  assert.equal(watcher.state.get('leader'), 'a')

  const last = await watcher.state.sync()
  await a.close()
  await watcher.state.whenDeleted('leader', { timeout: WAIT_MS })
  assert.equal(watcher.state.revision, last + 1)
  assert.equal(await b.state.compareAndSet('leader', undefined, 'b', { ephemeral: true }), true)
  await b.state.set('b-present', true, { ephemeral: true })
  // Taken over by a matching compareAndSet without a lease: permanent, as after any plain write.
  assert.equal(await c.state.compareAndSet('leader', 'b', 'c'), true)
  await b.close()
  // b's other ephemeral key goes in the revision that would have deleted the leader.
  await watcher.state.whenDeleted('b-present', { timeout: WAIT_MS })
  assert.equal(watcher.state.get('leader'), 'c')
})

test('options: set() and compareAndSet() refuse unknown options, a non-boolean ephemeral and a ttl that is not 1 ms to 365 days', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { state } = await clientFor(server)
  const before = await state.sync()
  const writes = {
    set: (options: unknown) => state.set('k', 1, options as never),
    compareAndSet: (options: unknown) => state.compareAndSet('k', undefined, 1, options as never),
  }
  const refused: [options: unknown, names: string][] = [
    [{ ephemral: true }, 'ephemral'],
    [{ ephemeral: true, ttl: 1_000, lease: 1 }, 'lease'],
    [{ ephemeral: 'yes' }, 'ephemeral'],
    [{ ephemeral: 1 }, 'ephemeral'],
    [{ ephemeral: null }, 'ephemeral'],
    [{ ttl: 0 }, 'ttl'],
    [{ ttl: -1 }, 'ttl'],
    [{ ttl: 1.5 }, 'ttl'],
    [{ ttl: NaN }, 'ttl'],
    [{ ttl: Infinity }, 'ttl'],
    [{ ttl: '1000' }, 'ttl'],
    [{ ttl: 1_000n }, 'ttl'],
    [{ ttl: null }, 'ttl'],
    [{ ttl: MAX_TTL_MS + 1 }, 'ttl'],
    [{ ttl: Number.MAX_SAFE_INTEGER + 1 }, 'ttl'],
    [{ ephemeral: true, ttl: -5 }, 'ttl'],
  ]
  for (const [call, write] of Object.entries(writes))
    for (const [options, name] of refused) {
      const label = `${call}: ${name} in ${JSON.stringify(options, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`
      // The promise rejects (the call does not throw), with the call and the option named.
      await assert.rejects(
        write(options),
        (error: unknown) =>
          isZStateError(error) &&
          error.code === 'ERR_INVALID_ARGUMENT' &&
          error.message.startsWith(`${call}: `) &&
          error.message.includes(name),
        label,
      )
    }
  assert.equal(await state.sync(), before, 'nothing was committed')
  assert.equal(state.has('k'), false)

  // The edges that are allowed.
  assert.equal(await state.set('max', 1, { ttl: MAX_TTL_MS }), before + 1)
  assert.equal(await state.set('min', 1, { ttl: 1 }), before + 2)
  assert.equal(await state.set('none', 1, {}), before + 3)
  assert.equal(await state.set('not-ephemeral', 1, { ephemeral: false }), before + 4)
  assert.equal(await state.set('both', 1, { ephemeral: true, ttl: 60_000 }), before + 5)
  assert.equal(await state.compareAndSet('cas-max', undefined, 1, { ttl: MAX_TTL_MS }), true)
  assert.equal(await state.compareAndSet('cas-none', undefined, 1, {}), true)
  assert.equal(await state.compareAndSet('cas-both', undefined, 1, { ephemeral: true, ttl: 1 }), true)
})

test('bad input: SET and CAS frames with a bad lease get a coded reply and the server serves on', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  // What follows the key and value (SET) or the key, expectAbsent, expected and next (CAS).
  const cases: [label: string, lease: unknown[], code: string][] = [
    ['ephemeral a string', ['yes', 0], 'ERR_PROTOCOL'],
    ['ephemeral a number', [1, 0], 'ERR_PROTOCOL'],
    ['ephemeral nil', [null, 0], 'ERR_PROTOCOL'],
    ['ttl a string', [false, '1000'], 'ERR_PROTOCOL'],
    ['ttl a boolean', [true, true], 'ERR_PROTOCOL'],
    ['ttl nil', [true, null], 'ERR_PROTOCOL'],
    ['ttl negative', [false, -1], 'ERR_INVALID_ARGUMENT'],
    ['ttl fractional', [false, 1.5], 'ERR_INVALID_ARGUMENT'],
    ['ttl over 365 days', [false, MAX_TTL_MS + 1], 'ERR_INVALID_ARGUMENT'],
    ['ttl far over 365 days', [true, Number.MAX_SAFE_INTEGER], 'ERR_INVALID_ARGUMENT'],
    ['one lease argument', [true], 'ERR_PROTOCOL'],
    ['three lease arguments', [true, 0, 0], 'ERR_PROTOCOL'],
    ['four lease arguments', [false, 1_000, 'x', 'y'], 'ERR_PROTOCOL'],
  ]
  const ops: [name: string, op: Op, before: unknown[]][] = [
    ['SET', Op.SET, ['k', 1]],
    ['CAS', Op.CAS, ['k', true, null, 1]],
  ]
  for (const [name, op, before] of ops)
    for (const [label, lease, code] of cases) {
      const reply = await peer.request(op, ...before, ...lease)
      assert.deepEqual(reply.slice(0, 3), [1, Status.ERROR, code], `${name}: ${label}`)
      assert.equal(typeof reply[3], 'string', `${name}: ${label}: a message`)
    }
  // Well-formed leases commit, answered by their commits.
  assert.deepEqual(await peer.request(Op.SET, 'leased', 1, true, 60_000), [1, Status.OK, 1])
  assert.deepEqual(await peer.request(Op.SET, 'plain', 2, false, 0), [1, Status.OK, 2])
  assert.deepEqual(await peer.request(Op.SET, 'max', 3, false, MAX_TTL_MS), [1, Status.OK, 3])
  assert.deepEqual(await peer.request(Op.CAS, 'cas', true, null, 4, true, 60_000), [1, Status.OK, 4])

  const { state } = await clientFor(server)
  assert.equal(await state.sync(), 4, 'only the well-formed writes committed')
  assert.deepEqual({ ...state.snapshot() }, { leased: 1, plain: 2, max: 3, cas: 4 })
  assert.equal(await state.set('still', 'works', { ttl: 60_000 }), 5)
  assert.equal(state.get('still'), 'works')
})

for (const stop of ['close', 'SIGKILL'] as const) {
  test(`durability: after a ${stop}, the restarted server deletes the ephemeral keys in one revision and keeps the rest`, async (t) => {
    const dataDir = join(tempDir(t), 'data')
    const first = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc'), dataDir })])
    const { address } = (await first.event(1)) as { address: string }
    const owner = fixture(t, 'ephemeral-owner', [address])
    await owner.event(1) // 'ready'
    await owner.call('set', 'perm', 1)
    await owner.call('set', 'ttl:long', 2, { ttl: 60_000 })
    await owner.call('set', 'e:1', 3, { ephemeral: true })
    await owner.call('set', 'e:2', { n: 4 }, { ephemeral: true })
    const last = await owner.call<number>('set', 'e:ttl', 5, { ephemeral: true, ttl: 60_000 })
    // The server stops while the owner's session lives; the owner then dies unheard.
    if (stop === 'close') await first.call('close')
    else first.child.kill('SIGKILL')
    await first.stop()
    await owner.stop()

    const server = await serverFor(t, 'ipc', { dataDir })
    const { state } = await clientFor(server)
    // No client of the restarted server sees them.
    assert.equal(await state.sync(), last + 1)
    assert.deepEqual({ ...state.snapshot() }, { perm: 1, 'ttl:long': 2 })
    const changes = state.watch({ fromRevision: 1, signal: t.signal })
    await state.set('sentinel', true)
    assert.deepEqual((await until(changes, 'sentinel')).filter((change) => change.deleted).sort(byKey), [
      deletion('e:1', 3, last + 1),
      deletion('e:2', { n: 4 }, last + 1),
      deletion('e:ttl', 5, last + 1),
    ])
  })
}

// Comes due while no server runs; and one that is not due yet when the restarted server starts.
const OVERDUE_TTL_MS = 300
const DUE_TTL_MS = 1_500

test('durability: a ttl key keeps its expiry across a restart: deleted as the server starts if overdue, there until due otherwise', async (t) => {
  const dataDir = join(tempDir(t), 'data')
  const first = await startServer({ dataDir })
  const writer = await connect(first.address)
  // Closed below; here too (close is idempotent) should the test fail before that.
  t.after(async () => {
    await writer.close()
    await first.close()
  })
  await writer.state.set('perm', 1)
  const overdueSent = performance.now()
  await writer.state.set('ttl:overdue', 2, { ttl: OVERDUE_TTL_MS })
  const dueSent = performance.now()
  await writer.state.set('ttl:due', 3, { ttl: DUE_TTL_MS })
  const dueSet = performance.now()
  await writer.close()
  await first.close()
  // The overdue key's time must pass while no server runs (its slot of the sweep's included): there is
  // no event to wait for, only time.
  await sleep(Math.max(0, overdueSent + OVERDUE_TTL_MS + SLOT_MS + 50 - performance.now()))

  const server = await serverFor(t, 'ipc', { dataDir })
  const reader = await clientFor(server)
  assert.ok(performance.now() - dueSet < DUE_TTL_MS, 'the restart took less than the ttl')
  assert.equal(reader.state.get('ttl:due'), 3, 'not yet due: still there after the restart')
  // Gone in the revision the server starts with: no client ever reads it (a lock that ran out while
  // the server was down would still be held until the next sweep).
  assert.equal(reader.state.has('ttl:overdue'), false, 'overdue: deleted as the server starts')
  await reader.state.whenDeleted('ttl:due', { timeout: DUE_TTL_MS + WAIT_MS })
  const dueAt = performance.now()
  assert.ok(dueAt - dueSent >= DUE_TTL_MS - CLOCK_MS, `deleted ${dueAt - dueSent} ms after the set`)
  assert.ok(
    dueAt - dueSet <= DUE_TTL_MS + SWEEP_WINDOW_MS + SLACK_MS,
    `deleted ${dueAt - dueSet} ms after the set`,
  )
  const changes = reader.state.watch({ fromRevision: 1, signal: t.signal })
  await reader.state.set('sentinel', true)
  assert.deepEqual(
    (await until(changes, 'sentinel'))
      .filter((change) => change.deleted)
      .map(({ key, previous }) => ({ key, previous }))
      .sort((x, y) => (x.key < y.key ? -1 : 1)),
    [
      { key: 'ttl:due', previous: 3 },
      { key: 'ttl:overdue', previous: 2 },
    ],
  )
  assert.deepEqual({ ...reader.state.snapshot() }, { perm: 1, sentinel: true })
})
