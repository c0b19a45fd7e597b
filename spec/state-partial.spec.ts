import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Dealer, Router } from 'zeromq'
import { connect, isZStateError, type Change, type StatusEvent } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION } from '../lib/protocol/ops.ts'
import { withBytes } from './raw-peer.ts'
import { clientFor, clientProcess, fixture, serverFor, stress, tempDir, transports } from './support.ts'
import { fromParts } from '../lib/protocol/parts.ts'

// Partial replicas (docs/state.md "Partial replicas"): connect({ replicate: prefixes }) keeps only the
// keys under them, and the server sends it nothing else.

const WAIT = { timeout: 30_000 }

// A heartbeat period longer than any test: no PING and no heartbeat crosses the wire meanwhile, so
// what a client receives can be counted exactly.
const QUIET = { heartbeatMs: 60_000 }

function refused(prefixes: string[]): (error: unknown) => boolean {
  return (error) =>
    isZStateError(error) &&
    error.code === 'ERR_INVALID_ARGUMENT' &&
    prefixes.every((prefix) => error.message.includes(JSON.stringify(prefix)))
}

async function nextStatus(events: AsyncIterator<StatusEvent>): Promise<string> {
  const { value } = await events.next()
  return (value as StatusEvent).type
}

// Takes `n` changes from a watch iterator.
async function take(changes: AsyncIterator<Change>, n: number): Promise<Change[]> {
  const taken: Change[] = []
  while (taken.length < n) {
    const { value, done } = await changes.next()
    assert.equal(done, false, 'the watch ended early')
    taken.push(value)
  }
  return taken
}

const brief = (change: Change): unknown[] => [change.revision, change.key, change.value, change.deleted]

for (const transport of transports) {
  test(`partial (${transport}): a partial client receives nothing of other keys`, async (t) => {
    const server = await serverFor(t, transport, QUIET)
    const partial = await clientFor(server, { replicate: ['mine/'] })
    const writer = await clientFor(server)
    const before = partial.metrics()
    const writes = 10_000
    for (let i = 0; i < writes; i += 1000)
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) => writer.state.set(`other/${(i + j) % 100}`, i + j)),
      )
    // The sentinel: the channel is ordered, so once it is here nothing earlier can still come.
    await writer.state.set('mine/sentinel', 1)
    await partial.state.whenEqual('mine/sentinel', 1, WAIT)
    const after = partial.metrics()
    assert.equal(after.messagesIn - before.messagesIn, 1, 'one message: the push of the sentinel')
    assert.ok(after.bytesIn - before.bytesIn < 100, `${after.bytesIn - before.bytesIn} bytes`)
    assert.ok(writer.metrics().bytesIn > writes * 10, 'a full replica receives every commit')
    assert.deepEqual([...partial.state.keys()], ['mine/sentinel'])
    assert.equal(partial.state.revision, writes + 1)
  })
}

test('partial: every change under the prefixes arrives in order; writes anywhere settle once', async (t) => {
  const server = await serverFor(t, 'ipc')
  const prefixes = ['jobs/', 'config']
  const partial = await clientFor(server, { replicate: prefixes })
  const other = await clientFor(server)
  const { state } = partial
  // Each watch is consumed as it goes, up to a last value written at the end.
  const until = async (changes: AsyncIterable<Change>, key: string): Promise<unknown[][]> => {
    const got: unknown[][] = []
    for await (const change of changes) {
      got.push(brief(change))
      if (change.key === key && change.value === 'done') break
    }
    return got
  }
  const everything = until(other.state.watch(), 'config')
  const replicated = until(state.watch(), 'config')
  const jobs = until(state.watch({ prefix: 'jobs/' }), 'jobs/done')

  // Another client writes keys inside and outside the prefixes, in every way a commit can change them.
  const rounds = stress ? 2_000 : 200
  for (let i = 0; i < rounds; i++) {
    await Promise.all([
      other.state.set(`jobs/${i % 7}`, i),
      other.state.set(`queue/${i % 5}`, i),
      other.state.update({ config: { round: i }, 'configs/x': i, [`jobs/${i % 3}`]: -i }),
      other.state.delete(`jobs/${(i + 1) % 7}`),
      other.state.atomic((d: Record<string, unknown>) => {
        d['jobs/a'] = i
        d['other'] = i
      }),
      i % 50 === 49 ? other.state.scope('jobs/').clear() : undefined,
      i % 97 === 96 ? other.state.clear() : undefined,
    ])
  }
  await other.state.set('jobs/done', 'done')
  await other.state.set('config', 'done')
  // 'config' is a prefix like any other: 'configs/x' is under it.
  const replicatedKey = (key: string): boolean => key.startsWith('config') || key.startsWith('jobs/')
  const expected = (await everything).filter(([, key]) => replicatedKey(key as string))
  assert.ok(expected.length > 5 * rounds, `${expected.length} changes`)
  assert.deepEqual(await replicated, expected)
  assert.deepEqual(
    await jobs,
    expected.filter(([, key]) => (key as string).startsWith('jobs/')),
  )
  // The replica equals the full one, cut to the prefixes.
  await state.sync()
  const cut = Object.entries(other.state.snapshot()).filter(([k]) => replicatedKey(k))
  assert.deepEqual(Object.entries(state.snapshot()).sort(), cut.sort())
  assert.equal(state.size, cut.length)

  // Read-your-writes for replicated keys, one at a time and all in flight.
  for (let i = 0; i < 50; i++) {
    await state.set('jobs/own', i)
    assert.equal(state.get('jobs/own'), i)
  }
  const seen = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      state.set(`jobs/k${i}`, i).then((revision) => ({ revision, value: state.get(`jobs/k${i}`) })),
    ),
  )
  seen.forEach(({ revision, value }, i) => {
    assert.ok(revision > 0)
    assert.equal(value, i, 'read-your-writes')
  })
  // Writes outside the prefixes work and settle exactly once, each with its own result.
  const counts = await Promise.all(Array.from({ length: 300 }, () => state.increment('tally')))
  assert.deepEqual(
    counts.map(Number).sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i + 1),
  )
  assert.equal(await state.compareAndSet('flag', undefined, 1), true)
  assert.equal(await state.delete('flag'), true)
  assert.equal(await state.delete('flag'), false)
  assert.ok((await state.set('elsewhere', 1)) > 0)
  await other.state.sync()
  assert.equal(other.state.get('tally'), 300)
  assert.equal(other.state.get('elsewhere'), 1)
  assert.equal(state.revision, await other.state.sync(), 'the revision moved on with the replies')
  // A transaction reads replicated keys and writes anywhere.
  const moved = await state.atomic((d: Record<string, unknown>) => {
    d['elsewhere'] = d['jobs/own']
    return d['jobs/own']
  })
  assert.equal(moved, 49)
  assert.deepEqual(
    [...state.keys()].filter((k) => !replicatedKey(k)),
    [],
  )
})

test('partial: reads, waiters, watches, scopes and transaction reads outside the prefixes are refused', async (t) => {
  const server = await serverFor(t, 'ipc')
  const prefixes = ['jobs/', 'config']
  const client = await clientFor(server, { replicate: prefixes })
  const { state } = client
  const named = refused(prefixes)
  assert.throws(() => state.get('other'), named)
  assert.throws(() => state.has('jobs'), named)
  assert.throws(() => state.get('conf'), named)
  await assert.rejects(state.whenEqual('other', 1), named)
  await assert.rejects(
    state.when('other', () => true),
    named,
  )
  await assert.rejects(state.whenChange(['jobs/a', 'other']), named)
  await assert.rejects(
    state.atomic((d: Record<string, unknown>) => d['other']),
    named,
  )
  await assert.rejects(
    state.atomic((d: Record<string, unknown>) => 'other' in d),
    named,
  )
  assert.throws(() => state.watch({ key: 'other' }), named)
  assert.throws(() => state.watch({ prefix: 'jo' }), named)
  assert.throws(() => state.scope('job'), named)
  // Prefix checks count the state's own scope.
  const jobs = state.scope('jobs/')
  assert.equal(jobs.scope('a/').get('x'), undefined)
  await jobs.watch({ prefix: 'a/' }).return?.()
  assert.throws(() => state.scope('conf').get('ig'), named)
  // Inside: allowed; whole-state reads see what the replica holds.
  await state.update({ 'jobs/1': 1, config: 2, other: 3 })
  assert.deepEqual({ ...state.snapshot() }, { 'jobs/1': 1, config: 2 })
  assert.equal(state.size, 2)
  assert.deepEqual(await state.atomic((d: Record<string, unknown>) => Object.keys(d).sort()), [
    'config',
    'jobs/1',
  ])
  // What JavaScript itself looks up on the draft (JSON.stringify's toJSON, a promise's then when fn
  // returns the draft) is not a read of a key outside the prefixes.
  const json = await state.atomic((d: Record<string, unknown>) => JSON.stringify(d))
  assert.deepEqual(JSON.parse(json), { 'jobs/1': 1, config: 2 })
  // The draft itself, returned: the state fn saw, the keys the replica holds.
  const whole = await state.atomic(async (d: Record<string, unknown>) => d)
  assert.deepEqual(whole, { 'jobs/1': 1, config: 2 })
  assert.deepEqual({ ...(await state.when((view) => view.get('config') === 2)) }, { 'jobs/1': 1, config: 2 })
  await assert.rejects(
    state.when((view) => view.get('other') === 3),
    named,
  )
  // A replay from history keeps to the prefixes too.
  const replay = state.watch({ fromRevision: 1 })
  assert.deepEqual((await take(replay, 2)).map((c) => c.key).sort(), ['config', 'jobs/1'])
  await replay.return?.()
  // An empty list replicates nothing.
  const writer = await clientFor(server, { replicate: [] })
  assert.throws(() => writer.state.get('jobs/1'), refused([]))
  assert.equal(writer.state.size, 0)
  assert.equal(await writer.state.increment('other', 1), 4)
})

test('partial: a clear that removed nothing a partial replica holds reaches none of its listeners or waiters', async (t) => {
  const server = await serverFor(t, 'ipc')
  const full = await clientFor(server)
  const partial = await clientFor(server, { replicate: ['jobs/'] })
  const events: number[] = []
  partial.state.subscribe((event) => events.push(event.revision))
  const looks: number[] = []
  const whole = partial.state.when((view) => {
    looks.push(view.revision)
    return view.has('jobs/1')
  })
  await full.state.set('users/a', 1)
  await full.state.clear() // deletes users/a only
  const revision = await full.state.set('jobs/1', 1)
  await whole
  assert.deepEqual(events, [revision])
  assert.deepEqual(looks, [0, revision])
})

test('partial: connect() checks the prefixes', async () => {
  const bad: [unknown, RegExp][] = [
    ['jobs/', /replicate must be an array/],
    [[1], /replicate\[0\] must be a string/],
    [['ok', '\uD800'], /replicate\[1\] must not hold a lone surrogate/],
    [Array.from({ length: 257 }, (_, i) => `p${i}`), /at most 256/],
    [['x'.repeat(1025)], /longer than 1024 UTF-8 bytes/],
  ]
  for (const [replicate, message] of bad) {
    await assert.rejects(
      connect('ipc:///nonexistent/zstate-partial', { replicate: replicate as string[], timeout: 1 }),
      (e) => isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT' && message.test(e.message),
    )
  }
})

test('partial: 4 processes incrementing one key with replicate: [] count exactly and receive only their replies', async (t) => {
  const server = await serverFor(t, 'ipc', QUIET)
  const n = stress ? 10_000 : 1_000
  const writers = await Promise.all(
    [1, 2, 3, 4].map(async (i) => {
      const f = fixture(t, 'client', [server.address, `writer ${i}`, JSON.stringify({ replicate: [] })])
      await f.event(1)
      return f
    }),
  )
  type Counters = { messagesIn: number; bytesIn: number }
  const before = await Promise.all(writers.map((w) => w.call<Counters>('metrics')))
  await Promise.all(writers.map((w) => w.call('incrementMany', 'increment', 'counter', n)))
  const after = await Promise.all(writers.map((w) => w.call<Counters>('metrics')))
  const reader = await clientFor(server)
  await reader.state.sync()
  assert.equal(reader.state.get('counter'), 4 * n)
  for (let i = 0; i < 4; i++) {
    // One reply per increment (each awaited before the next), and nothing else: no other commit.
    assert.equal(after[i]!.messagesIn - before[i]!.messagesIn, n, `writer ${i + 1}`)
    assert.ok((after[i]!.bytesIn - before[i]!.bytesIn) / n < 24, `writer ${i + 1}: bytes per increment`)
  }
})

test('partial: HELLO with hostile prefixes is refused with ERR_INVALID_ARGUMENT, and the server serves on', async (t) => {
  const server = await serverFor(t, 'ipc')
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(server.address)
  const hello = (replicate: unknown): unknown[] => [
    1,
    Op.HELLO,
    PROTOCOL_VERSION,
    'aaaaaaaaaaaaaaaa',
    1,
    'raw',
    replicate,
  ]
  const ask = async (frame: Buffer): Promise<unknown[]> => {
    await dealer.send(frame)
    return (decode(fromParts(await dealer.receive(), 0)!) as unknown[][])[0]!
  }
  const loneSurrogate = withBytes(encode([hello(['ok/', '###'])]), '###', Buffer.from('eda080', 'hex'))
  for (const frame of [
    encode([hello(Array.from({ length: 100_000 }, (_, i) => `p${i}`))]),
    encode([hello(Array.from({ length: 257 }, () => ''))]),
    encode([hello([1, 2])]),
    encode([hello([null])]),
    encode([hello('jobs/')]),
    encode([hello({ 0: 'jobs/' })]),
    encode([hello(['x'.repeat(1025)])]),
    loneSurrogate,
  ]) {
    const [id, status, code] = await ask(frame)
    assert.deepEqual([id, status, code], [1, 1, 'ERR_INVALID_ARGUMENT'])
  }
  const [, status, code] = await ask(encode([[...hello(['a/']), null, 'extra']]))
  assert.deepEqual([status, code], [1, 'ERR_PROTOCOL'])
  // The session was never opened.
  const [, , refusal] = await ask(encode([[2, Op.SYNC]]))
  assert.equal(refusal, 'ERR_DISCONNECTED')
  // A well-formed HELLO still works, and so does everyone else.
  const [, ok] = await ask(encode([hello(['a/', '', 'a/b'])]))
  assert.equal(ok, 0)
  const client = await clientFor(server)
  assert.equal(await client.state.set('k', 1), 1)
})

test('partial: a client rejoining a restarted server asks for its prefixes again', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const start = async () => {
    const server = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 50 })])
    await server.event(1)
    return server
  }
  const first = await start()
  const partial = await connect(address, { replicate: ['a/'] })
  t.after(() => partial.close())
  const events = partial.status()[Symbol.asyncIterator]()
  first.child.kill('SIGKILL')
  assert.equal(await nextStatus(events), 'disconnected')
  await start()
  assert.equal(await nextStatus(events), 'reset')
  const writer = await connect(address)
  t.after(() => writer.close())
  await writer.state.set('b/y', 1)
  await writer.state.set('a/x', 1)
  await partial.state.whenEqual('a/x', 1, WAIT)
  assert.deepEqual([...partial.state.keys()], ['a/x'])
  assert.throws(() => partial.state.get('b/y'), refused(['a/']))
})

test('partial: after the server forgot it, a client catches up from history without a reset', async (t) => {
  // The server forgets a client silent for 10 heartbeats: 1 s here.
  const address = `ipc://${join(tempDir(t), 'state')}`
  // A history long enough for the catch-up, however many writes are sent again before it.
  const options = { address, heartbeatMs: 100, history: { revisions: 100_000 } }
  const server = fixture(t, 'server', [JSON.stringify(options)])
  await server.event(1)
  const partial = await connect(address, { replicate: ['n', 'seen'] })
  t.after(() => partial.close())
  const other = await clientProcess(t, address, 'other')
  const events = partial.status()[Symbol.asyncIterator]()
  const seen = partial.state.watch({ key: 'seen' })
  await partial.state.set('n', 0)
  // While this process is blocked, the server forgets it; then another process writes a replicated
  // key, each write after one of the unreplicated 'pad', and says so with a file.
  const done = join(tempDir(t), 'written')
  const written = other.call<number>('writeWhenForgotten', 1, done, 'seen', 300, 10)
  const cell = new Int32Array(new SharedArrayBuffer(4))
  while (!existsSync(done)) Atomics.wait(cell, 0, 0, 5)
  // Refused unapplied by the server that forgot us, sent again after the rejoin: each settles once,
  // in order, once the replica shows it, though the replica first catches up from history.
  const writes = stress ? 10_000 : 1_000
  const results = await Promise.all(
    Array.from({ length: writes }, () =>
      partial.state.increment('n').then((value) => ({ value, replica: partial.state.get('n') as number })),
    ),
  )
  assert.deepEqual(
    results.map(({ value }) => value),
    Array.from({ length: writes }, (_, i) => i + 1),
  )
  for (const { value, replica } of results) assert.ok(replica >= value, 'read-your-writes')
  assert.equal(await nextStatus(events), 'disconnected')
  assert.equal(await nextStatus(events), 'reconnected')
  assert.ok((await written) > 0)
  assert.deepEqual(
    (await take(seen, 300)).map((change) => change.value),
    Array.from({ length: 300 }, (_, i) => i + 1),
    'every change, in order, across the rejoin',
  )
  assert.deepEqual([...partial.state.keys()].sort(), ['n', 'seen'])
  const { resyncs, gapsRepaired } = partial.metrics()
  assert.deepEqual({ resyncs, gapsRepaired }, { resyncs: 0, gapsRepaired: 1 }, 'caught up from history')
})

test('partial: a push that does not follow the last one drops the link; the client rejoins from a snapshot', async (t) => {
  // A stand-in server that answers what a partial client asks and pushes what the test says.
  const router = new Router({ linger: 0 })
  t.after(() => router.close())
  await router.bind('tcp://127.0.0.1:*')
  const epoch = '0123456789abcdef'
  let peer: Buffer | undefined
  let hellos = 0
  const send = (replies: unknown[]): Promise<void> => router.send([peer!, encode(replies)])
  void (async () => {
    for await (const [id, ...frames] of router) {
      peer = id
      for (const [rid, op] of decode(fromParts(frames, 0)!) as [number, number][]) {
        if (op === Op.HELLO) {
          hellos++
          await send([
            [
              rid,
              0,
              PROTOCOL_VERSION,
              '0',
              epoch,
              5,
              'tcp://127.0.0.1:1',
              1 << 20,
              1000,
              'tcp://127.0.0.1:1',
              1,
            ],
          ])
        } else if (op === Op.SNAPSHOT) await send([[rid, 0, epoch, 5, null, [], [['a/x', hellos * 10]]]])
        else await send([[rid, 0, 5]])
      }
    }
  })().catch(() => {})
  const client = await connect(router.lastEndpoint!, { replicate: ['a/'] })
  t.after(() => client.close())
  const events = client.status()[Symbol.asyncIterator]()
  assert.equal(client.state.get('a/x'), 10)
  await send([[0, 3, epoch, 6, [[6, 5, [['a/x', 0, 11]]]]]])
  await client.state.whenEqual('a/x', 11, WAIT)
  // Its first commit follows 7, but the last push reached 6.
  await send([[0, 3, epoch, 8, [[8, 7, [['a/x', 0, 12]]]]]])
  assert.equal(await nextStatus(events), 'disconnected')
  assert.equal(await nextStatus(events), 'reset')
  assert.equal(hellos, 2)
  assert.equal(client.state.get('a/x'), 20, 'the replica comes from the new snapshot')
})
