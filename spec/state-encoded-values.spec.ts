// Values that travel encoded (SET_ENCODED, docs/protocol.md): a set's value worth keeping as bytes (a
// map or array of 24 bytes or more, binary data past 64 bytes, a string of 128) is published as its
// MessagePack bytes, which a replica keeps until the value is read. Whatever reads it, and whenever,
// gets what decoding it on arrival would have given.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode } from '../lib/errors.ts'
import { connect, type Change } from '../lib/index.ts'
import { Observers } from '../lib/client/observers.ts'
import { Replica } from '../lib/client/replica.ts'
import { readChange } from '../lib/link/replies.ts'
import { encode } from '../lib/protocol/codec.ts'
import { ChangeKind, Op, Status } from '../lib/protocol/ops.ts'
import { Undecoded } from '../lib/protocol/undecoded.ts'
import { keptEncoded } from '../lib/server/change-encoding.ts'
import { readSetFrame } from '../lib/server/set-frame.ts'
import { rawPeer } from './raw-peer.ts'
import { clientFor, pair, serverFor } from './support.ts'

// A value well worth keeping encoded, of the kinds a set keeps as the bytes it came in (a Date, an
// extension, goes the full path: lib/server/set-frame.ts).
function item(i: number): Record<string, unknown> {
  return {
    id: i,
    name: `item-${i}`,
    tags: ['a', 'b', { nested: [i, null, true] }],
    score: i * 1.5,
    big: BigInt(i) << 40n,
    bytes: new Uint8Array([i, 1, 2]),
    note: 'é'.repeat(40),
  }
}

// Sets of item() travel encoded: what these specs read is kept undecoded until read.
assert.ok(readSetFrame(encode([[1, Op.SET, 'k', item(1)]])) !== undefined && keptEncoded(encode(item(1))))

function assertDeepFrozen(value: unknown, path = 'value'): void {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || value instanceof Date)
    return
  assert.ok(Object.isFrozen(value), `${path} is frozen`)
  for (const [key, inner] of Object.entries(value)) assertDeepFrozen(inner, `${path}.${key}`)
}

test('encoded values: maps and arrays of 24 bytes or more, binary data past 64 bytes and strings of 128 are published as SET_ENCODED, as written; others as SET', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  // As msgpackr writes them: { a: 'x' × n } takes 6 + n bytes (a map 16), ['x' × n] 2 + n, a str 8
  // of n characters and a bin 8 of n bytes 2 + n.
  const written: [string, unknown, boolean][] = [
    ['object of 24 bytes', { a: 'x'.repeat(18) }, true],
    ['object of 23 bytes', { a: 'x'.repeat(17) }, false],
    ['array of 24 bytes', ['x'.repeat(22)], true],
    ['binary of 67 bytes', new Uint8Array(65).fill(7), true],
    ['binary of 66 bytes', new Uint8Array(64).fill(7), false],
    ['string of 128 bytes', 'x'.repeat(126), true],
    ['string of 127 bytes', 'x'.repeat(125), false],
    ['a number', 2 ** 40, false],
    ['item', item(1), true],
  ]
  for (const [key, value] of written) assert.equal((await peer.request(Op.SET, key, value))[1], Status.OK)
  const changes = peer.commits.flatMap((commit) => commit[2] as unknown[][])
  written.forEach(([key, value, kept], i) => {
    if (key.includes(' of ')) assert.equal(encode(value).length, Number(/of (\d+)/.exec(key)![1]), key)
    assert.equal(keptEncoded(encode(value)), kept, key)
    if (kept) assert.deepEqual(changes[i], [key, ChangeKind.SET_ENCODED, encode(value)], key)
    else assert.deepEqual(encode(changes[i]), encode([key, ChangeKind.SET, value]), key)
  })
  // A Date in the bytes msgpackr writes for it is kept as written too.
  const dated = { ...item(1), when: new Date(5) }
  assert.equal((await peer.request(Op.SET, 'with a date', dated))[1], Status.OK)
  assert.deepEqual((peer.commits.at(-1)![2] as unknown[][])[0], [
    'with a date',
    ChangeKind.SET_ENCODED,
    encode(dated),
  ])
  // Decoded by the server (nested deeper than the scan follows): published as the value.
  let deep: unknown = item(1)
  for (let level = 0; level < 70; level++) deep = [deep]
  assert.equal((await peer.request(Op.SET, 'deep', deep))[1], Status.OK)
  const last = (peer.commits.at(-1)![2] as unknown[][])[0]!
  assert.deepEqual(encode(last), encode(['deep', ChangeKind.SET, deep]))
  // Only the server makes them: a transaction's write of one is refused, and nothing changes.
  const [, , epoch, revision] = await peer.request(Op.SYNC)
  const refused = await peer.request(Op.TXN, epoch, revision, [], false, [
    ['forged', ChangeKind.SET_ENCODED, encode(item(2))],
  ])
  assert.deepEqual(refused.slice(1, 3), [Status.ERROR, ErrorCode.PROTOCOL])
  assert.equal((await peer.request(Op.SYNC))[3], revision)
  // What the server keeps is the value, not the bin: snapshots and other ops read it.
  const fresh = await clientFor(server)
  for (const [key, value] of written) assert.deepStrictEqual(fresh.state.get(key), value, key)
  assert.equal(await fresh.state.compareAndSet('item', item(1), 'next'), true)
})

test('encoded values: every read of a replica (get, iterators, scope, snapshot, views, transactions, waiters) gets the decoded value', async (t) => {
  const [writer, reader] = await pair(t)
  await writer.state.set('a', item(1))
  await writer.state.set('b', item(2))
  await reader.state.sync()
  // A view at this revision, read only after 'a' changed: it reads the value the replica kept then.
  const before = reader.state.snapshot()
  await writer.state.set('a', item(3))
  await reader.state.sync()

  const a = reader.state.get('a')
  assert.deepStrictEqual(a, item(3))
  assert.equal(reader.state.get('a'), a, 'decoded once: the same object every time')
  assertDeepFrozen(a)
  assert.deepStrictEqual(before['a'], item(1))
  assert.deepStrictEqual(before['b'], item(2))
  assert.deepStrictEqual(
    new Map(reader.state.entries()),
    new Map([
      ['a', item(3)],
      ['b', item(2)],
    ]),
  )
  assert.deepStrictEqual([...reader.state.values()], [item(3), item(2)])
  assert.deepStrictEqual([...reader.state], [...reader.state.entries()])
  assert.deepStrictEqual({ ...reader.state.snapshot() }, { a: item(3), b: item(2) })
  assert.deepStrictEqual(reader.state.get('b'), item(2))
  // The writer's own replica holds its values the same way.
  assert.deepStrictEqual(writer.state.get('a'), item(3))

  await writer.state.set('jobs/1', item(4))
  await reader.state.sync()
  const jobs = reader.state.scope('jobs/')
  assert.deepStrictEqual(jobs.get('1'), item(4))
  assert.deepStrictEqual([...jobs.entries()], [['1', item(4)]])
  assert.deepStrictEqual([...jobs.values()], [item(4)])

  // A transaction drafts the decoded value; a waiter tests it.
  await reader.state.atomic((draft) => {
    ;(draft['b'] as { tags: unknown[] }).tags.push('c')
  })
  assert.deepStrictEqual(reader.state.get('b'), {
    ...item(2),
    tags: [...(item(2)['tags'] as unknown[]), 'c'],
  })
  const waited = reader.state.when('a', (value) => (value as { id?: number } | undefined)?.id === 5)
  const whole = reader.state.when((view) => (view.get('a') as { id?: number } | undefined)?.id === 5)
  await writer.state.set('a', item(5))
  assert.deepStrictEqual(await waited, item(5))
  assert.deepStrictEqual((await whole)['a'], item(5))
  assert.equal(await reader.state.compareAndSet('a', item(5), 'done'), true)
})

test('encoded values: watch streams and history replays carry decoded values and previous values', async (t) => {
  const [writer, reader] = await pair(t)
  // Kept undecoded by the reader: nothing watches yet.
  const first = await writer.state.set('a', item(1))
  await reader.state.sync()
  const controller = new AbortController()
  const live: Change[] = []
  const watching = (async () => {
    for await (const change of reader.state.watch({ signal: controller.signal })) {
      live.push(change)
      if (live.length === 2) break
    }
  })()
  await writer.state.set('a', item(2))
  await writer.state.delete('a')
  await watching
  assert.deepStrictEqual(
    live.map(({ value, previous, deleted }) => ({ value, previous, deleted })),
    [
      { value: item(2), previous: item(1), deleted: false },
      { value: undefined, previous: item(2), deleted: true },
    ],
  )
  const replayed: Change[] = []
  for await (const change of reader.state.watch({ fromRevision: first })) {
    replayed.push(change)
    if (replayed.length === 3) break
  }
  assert.deepStrictEqual(
    replayed.map(({ value }) => value),
    [item(1), item(2), undefined],
  )
  assert.deepStrictEqual(replayed[1]!.previous, item(1))
})

test('encoded values: a client joining later reads them from its snapshot, and the writer its own, kept and decoded ones alike', async (t) => {
  const [writer] = await pair(t)
  const writes = Array.from({ length: 300 }, (_, i) => writer.state.set(`k${i}`, i % 2 === 0 ? item(i) : i))
  await Promise.all(writes)
  const late = await connect(writer.address)
  t.after(() => late.close())
  for (let i = 0; i < 300; i++) {
    assert.deepStrictEqual(late.state.get(`k${i}`), i % 2 === 0 ? item(i) : i)
    assert.deepStrictEqual(writer.state.get(`k${i}`), i % 2 === 0 ? item(i) : i)
  }
})

test('encoded values: a SET_ENCODED change is read as the bytes; bytes that are no value are ERR_PROTOCOL when read, anything but bytes at once', () => {
  const change = readChange(['k', ChangeKind.SET_ENCODED, encode(item(7))])
  assert.equal(change[1], ChangeKind.SET)
  assert.ok(change[2] instanceof Undecoded)
  assert.deepStrictEqual(change[2].value, item(7))
  assert.equal(change[2].value, change[2].value)
  const truncated = readChange(['k', ChangeKind.SET_ENCODED, encode(item(7)).subarray(0, 20)])
  assert.throws(() => (truncated[2] as Undecoded).value, { code: ErrorCode.PROTOCOL })
  const twoValues = readChange(['k', ChangeKind.SET_ENCODED, Buffer.concat([encode(1), encode(2)])])
  assert.throws(() => (twoValues[2] as Undecoded).value, { code: ErrorCode.PROTOCOL })
  assert.throws(() => readChange(['k', ChangeKind.SET_ENCODED, 'not bytes']), { code: ErrorCode.PROTOCOL })
  assert.throws(() => readChange(['k', ChangeKind.SET_ENCODED, encode(1), 'lease']), {
    code: ErrorCode.PROTOCOL,
  })
})

test('encoded values: a partial replica takes them from its pushes and reads them decoded', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  const partial = await clientFor(server, { replicate: ['jobs/'] })
  await writer.state.set('jobs/1', item(1))
  await writer.state.set('other', item(2))
  await partial.state.set('jobs/2', item(3))
  await partial.state.sync()
  assert.deepStrictEqual(partial.state.get('jobs/1'), item(1))
  assert.deepStrictEqual(partial.state.get('jobs/2'), item(3))
  assert.deepStrictEqual([...partial.state.scope('jobs/').values()], [item(1), item(3)])
})

test('encoded values: a replica decodes on arrival only what someone reads then; a stream added later still gets values', () => {
  const replica = new Replica()
  const observers = new Observers()
  const waited: (Change | undefined)[] = []
  observers.addWaiter({
    keys: ['flag'],
    prefix: undefined,
    onRevision: (_, change) => waited.push(change),
    onReset: () => {},
    fail: () => {},
  })
  const changes = replica.apply(
    1,
    [
      ['big', ChangeKind.SET, new Undecoded(encode(item(1)))],
      ['flag', ChangeKind.SET, new Undecoded(encode(item(2)))],
    ],
    observers.needsValue,
  )
  assert.ok(replica.data.get('big') instanceof Undecoded, 'no one waits for big: kept as it came')
  assert.deepStrictEqual(replica.data.get('flag'), item(2), 'a waiter names flag: decoded')
  const pushed: Change[] = []
  observers.addStream({ pushAll: (all) => pushed.push(...all), onReset: () => {}, end: () => {} })
  observers.revision(1, changes)
  assert.deepStrictEqual(waited[0]?.value, item(2))
  assert.deepStrictEqual(
    pushed.map(({ key, value }) => [key, value]),
    [
      ['big', item(1)],
      ['flag', item(2)],
    ],
  )
  // With a stream open, every value is decoded as it is applied.
  replica.apply(2, [['big', ChangeKind.SET, new Undecoded(encode(item(3)))]], observers.needsValue)
  assert.deepStrictEqual(replica.data.get('big'), item(3))
})
