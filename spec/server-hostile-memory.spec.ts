// What a hand-written client can make the server keep, or spend its time on (docs/security.md): names
// and other strings it keeps hold nothing of their frame, waits are bounded, an error reply stays
// small, a leaving provider session costs one pass over the queue, and a map key no object can have
// costs its own request only.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { Dealer } from 'zeromq'
import { connect } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { MAX_HELD_CALL_BYTES, MAX_REGISTRY_BYTES } from '../lib/server/broker.ts'
import { QUEUED_CALL_OVERHEAD } from '../lib/server/service.ts'
import { MAX_SESSION_WAITS } from '../lib/server/service-waits.ts'
import { IDLE_MS, MIN_HELD_ENTRIES, STORES_HELD } from '../lib/server/snapshot-holds.ts'
import { rawPeer } from './raw-peer.ts'
import { addressFor, clientFor, fixture, serverFor } from './support.ts'

type Reply = [id: number, status: number, ...rest: unknown[]]

async function serverProcess(t: TestContext) {
  const server = fixture(t, 'server', [JSON.stringify({ address: addressFor(t, 'ipc') })])
  const { address } = (await server.event(1)) as { address: string }
  return { address, heap: () => server.call<number>('heap') }
}

// A DEALER that said HELLO as `name`; requests matched to replies by id.
async function session(t: TestContext, address: string, name = 'raw') {
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(address)
  const waiting = new Map<number, (reply: Reply) => void>()
  let nextId = 1
  // One send at a time, as a socket takes them.
  let sending = Promise.resolve()
  const request = (op: number, ...args: unknown[]): Promise<Reply> => {
    const id = nextId++
    const reply = new Promise<Reply>((resolve) => waiting.set(id, resolve))
    const frame = encode([[id, op, ...args]])
    sending = sending.then(() => dealer.send(frame)).catch(() => {})
    return reply
  }
  const hello = request(Op.HELLO, PROTOCOL_VERSION, randomBytes(8).toString('hex'), process.pid, name)
  void (async () => {
    for await (const frames of dealer)
      for (const reply of decode(fromParts(frames, 0)!) as Reply[]) waiting.get(reply[0])?.(reply)
  })().catch(() => {})
  assert.equal((await hello)[1], Status.OK)
  return { dealer, request, next: () => nextId++ }
}

const MiB = 1 << 20

test('hostile: names of 4 MiB are kept to 256 characters, holding nothing more of their frames', async (t) => {
  const { address, heap } = await serverProcess(t)
  const before = await heap()
  const long = (i: number): string => `${'n'.repeat(4 * MiB)}${i}`
  const sessions = []
  for (let i = 0; i < 8; i++) sessions.push(await session(t, address, long(i)))
  const [first] = sessions
  for (let i = 0; i < 8; i++)
    assert.equal(
      (await first!.request(Op.CONTEXT_OPEN, (0x10000000 + i).toString(16), long(i), 1, null, 'h'))[1],
      Status.OK,
    )
  const grown = (await heap()) - before
  // 16 names of 4 MiB: kept whole, 64 MiB and more.
  assert.ok(grown < 8 * MiB, `the server's heap grew by ${(grown / MiB).toFixed(1)} MiB`)
})

test('hostile: waitForService requests nobody answers are bounded per client', async (t) => {
  const server = await serverFor(t, 'ipc')
  const waiter = await session(t, server.address)
  const waits = Array.from({ length: MAX_SESSION_WAITS + 10 }, (_, i) =>
    waiter.request(Op.AWAIT_SERVICE, `svc-${i}`, 1),
  )
  // Those past the bound are refused at once; the others wait, and are answered as usual.
  for (const reply of await Promise.all(waits.slice(MAX_SESSION_WAITS))) {
    assert.equal(reply[1], Status.ERROR)
    assert.equal(reply[2], 'ERR_OVERFLOW')
  }
  const provider = await connect(server.address)
  t.after(() => provider.close())
  await provider.provide('svc-0', { f: () => 1 })
  assert.deepEqual((await waits[0]!).slice(1), [Status.OK, 1])
})

test('hostile: a call of a method the service lacks gets a reply of a few KiB, not every method name', async (t) => {
  const server = await serverFor(t, 'ipc')
  const provider = await session(t, server.address, 'provider')
  // As many as the registry takes (1 MiB of names in all).
  for (let p = 0; p < 16; p++) {
    const methods = Array.from({ length: 64 }, (_, m) => `m${p}_${m}_`.padEnd(1_000, 'x'))
    assert.equal((await provider.request(Op.PROVIDE, 'svc', methods, 1, p + 1))[1], Status.OK)
  }
  const caller = await session(t, server.address, 'caller')
  const [, status, code, message] = await caller.request(Op.CALL, 'svc', 'nope', [], 1_000)
  assert.equal(status, Status.ERROR)
  assert.equal(code, 'ERR_INVALID_ARGUMENT')
  // 1,024 method names of 1,000 bytes: the whole list is 1 MB.
  assert.ok((message as string).length < 4_096, `a message of ${(message as string).length} characters`)
  assert.match(message as string, /has no method 'nope' \(it offers: m0_0_x+…, .* and 1004 more\)/)
})

test('hostile: a session of many providers leaving with calls queued stalls no other client', async (t) => {
  const server = await serverFor(t, 'ipc')
  const providers = await session(t, server.address, 'providers')
  // 300 providers of method b, one of method a; concurrency 1; never answering.
  for (let k = 1; k <= 301; k += 50)
    await Promise.all(
      Array.from({ length: Math.min(50, 302 - k) }, (_, i) =>
        providers.request(Op.PROVIDE, 'svc', [k + i <= 300 ? 'b' : 'a'], 1, k + i),
      ),
    )
  const caller = await session(t, server.address, 'caller')
  // One call busies the provider of a; 10,000 more wait in the queue.
  const calls = Array.from({ length: 10_001 }, () => caller.request(Op.CALL, 'svc', 'a', [], 120_000))
  const observer = await clientFor(server)
  await observer.state.sync()
  const started = performance.now()
  void providers.request(Op.BYE)
  const [first] = await Promise.all([calls[1]!, observer.state.set('after', 1)])
  const took = performance.now() - started
  assert.equal(first[2], 'ERR_NO_PROVIDER')
  // Losing each provider went over the whole queue: 11 s here for 300 providers, growing as their square.
  assert.ok(took < 3_000, `another client's write took ${took.toFixed(0)} ms`)
})

test('hostile: a map key that is an array or bin is refused with its request only; the rest of the frame is served', async (t) => {
  const server = await serverFor(t, 'ipc')
  const peer = await rawPeer(t, server.address)
  for (const [what, key] of [
    ['an array', Buffer.from('91a161', 'hex')],
    ['bin', Buffer.from('c40161', 'hex')],
  ] as const) {
    // [PING], [SET good 1], [SET bad { KEY: 1 }], the bad map written by hand.
    const head = encode([
      [1, Op.PING],
      [2, Op.SET, `good ${what}`, 1],
      [3, Op.SET, 'bad', null],
    ])
    const frame = Buffer.concat([
      head.subarray(0, head.length - 1),
      Buffer.from('81', 'hex'),
      key,
      Buffer.from('01', 'hex'),
    ])
    const replies = await peer.send(frame)
    assert.equal(replies.length, 3, what)
    assert.equal(replies[0]![1], Status.OK)
    assert.equal(replies[1]![1], Status.OK, 'the write beside it commits')
    // A frame no client library writes: refused as a protocol error, that request only.
    assert.deepEqual(replies[2]!.slice(1, 3), [Status.ERROR, 'ERR_PROTOCOL'], what)
  }
  const reader = await connect(server.address)
  t.after(() => reader.close())
  assert.equal(reader.state.get('good an array'), 1)
  assert.equal(reader.state.has('bad'), false)
})

// A raw DEALER that said HELLO, read by hand: `flood` sends requests in frames of 1,023, each closed
// by a SYNC whose reply it awaits (the server refuses a peer that runs too far ahead of it), and
// returns every other reply, at least `expected` of them (a failed write's reply may come after
// the SYNC's).
async function rawCaller(t: TestContext, address: string) {
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(address)
  const receive = async (): Promise<Reply[]> => decode(fromParts(await dealer.receive(), 0)!) as Reply[]
  await dealer.send(
    encode([[1, Op.HELLO, PROTOCOL_VERSION, randomBytes(8).toString('hex'), process.pid, 'raw']]),
  )
  assert.equal((await receive())[0]![1], Status.OK)
  const SYNC_ID = 2 ** 40
  const flood = async (requests: unknown[][], expected = 0): Promise<Reply[]> => {
    const replies: Reply[] = []
    for (let i = 0; i < requests.length; i += 1023) {
      await dealer.send(encode([...requests.slice(i, i + 1023), [SYNC_ID, Op.SYNC]]))
      for (let synced = false; !synced;)
        for (const reply of await receive()) {
          if (reply[0] === SYNC_ID) synced = true
          else replies.push(reply)
        }
    }
    while (replies.length < expected) for (const reply of await receive()) replies.push(reply)
    return replies
  }
  // Reads `expected` replies, keeping only how many came with each error code ('' for none).
  const tally = async (expected: number): Promise<Map<string, number>> => {
    const codes = new Map<string, number>()
    for (let read = 0; read < expected;)
      for (const reply of await receive()) {
        const code = reply[1] === Status.ERROR ? String(reply[2]) : ''
        codes.set(code, (codes.get(code) ?? 0) + 1)
        read++
      }
    return codes
  }
  return { flood, tally }
}

// 110,000 calls of `method` with empty arguments (ids from 100), none answered: the first `admitted`
// are taken, and every one after them is refused with ERR_OVERFLOW, as the calls held reach 128 MiB.
async function callsPast128MiB(
  caller: Awaited<ReturnType<typeof rawCaller>>,
  method: string,
  admitted: number,
): Promise<void> {
  const calls = 110_000
  const refused = await caller.flood(
    Array.from({ length: calls }, (_, i) => [100 + i, Op.CALL, 'S', method, [], 600_000]),
  )
  assert.equal(refused.length, calls - admitted)
  assert.ok(
    refused.every((reply) => reply[2] === 'ERR_OVERFLOW'),
    JSON.stringify(refused[0]),
  )
  assert.equal(refused[0]![0], 100 + admitted, 'the first call refused is the one past 128 MiB')
}

test('hostile: queued calls count their method and their own record, and a request id used again replaces its call', async (t) => {
  // A long heartbeat: the raw provider never PINGs, and must not be dropped for silence meanwhile.
  const server = await serverFor(t, 'ipc', { maxQueuedCalls: 1_000_000, heartbeatMs: 10_000 })
  const provider = await session(t, server.address, 'provider')
  const method = 'm'.repeat(1000)
  assert.equal((await provider.request(Op.PROVIDE, 'S', [method], 1, 1))[1], Status.OK)
  const queued = async (): Promise<number | undefined> =>
    ((await provider.request(Op.STATS))[2] as { services: { queued: number }[] }).services[0]?.queued
  // A caller reuses one request id: each call replaces the one before, as a CANCEL would. The first
  // runs (the provider never answers), the last waits; the one between is gone.
  const reuser = await rawCaller(t, server.address)
  await reuser.flood(['q1', 'q2', 'q3'].map((arg) => [7, Op.CALL, 'S', method, [arg], 600_000]))
  assert.equal(await queued(), 1, 'the reused id holds one queued call')
  await reuser.flood([[8, Op.BYE]])
  assert.equal(await queued(), 0, 'its queued call went with it')

  // Calls of empty arguments (1 byte encoded) that the provider never answers wait, each counting
  // 1 + 1,000 + 320 bytes against the 128 MiB, of which the provider holds 1,000 + 320 already (the
  // reuser's first call, handed to it: its arguments went with it).
  const caller = await rawCaller(t, server.address)
  const handed = method.length + QUEUED_CALL_OVERHEAD
  const waiting = Math.floor((MAX_HELD_CALL_BYTES - handed) / (1 + handed))
  await callsPast128MiB(caller, method, waiting)
  assert.equal(await queued(), waiting)
  await caller.flood([[3, Op.BYE]])
  assert.equal(await queued(), 0, 'nothing of the caller that left is queued')
})

// A provider may take a million calls at once and answer none, and its session stays: the calls
// handed to it count against the same 128 MiB as queued ones (their method and record; their
// arguments went with the push), so it cannot make the server hold calls without bound. They free
// their bytes when it goes.
test('hostile: calls handed to a provider that never answers count against the 128 MiB that calls may hold', async (t) => {
  const server = await serverFor(t, 'ipc', { heartbeatMs: 10_000 })
  const method = 'm'.repeat(1000)
  const provide = async (name: string) => {
    const provider = await session(t, server.address, name)
    assert.equal((await provider.request(Op.PROVIDE, 'S', [method], 1_000_000, 1))[1], Status.OK)
    return provider
  }
  const hoarder = await provide('hoarder')
  const inFlight = async (): Promise<number | undefined> =>
    ((await hoarder.request(Op.STATS))[2] as { services: { inFlight: number }[] }).services[0]?.inFlight
  const caller = await rawCaller(t, server.address)
  const handed = Math.floor(MAX_HELD_CALL_BYTES / (method.length + QUEUED_CALL_OVERHEAD))
  await callsPast128MiB(caller, method, handed)
  assert.equal(await inFlight(), handed)
  // The hoarder leaves: every call it held fails, and the next provider takes calls again.
  await hoarder.request(Op.BYE)
  assert.deepEqual(await caller.tally(handed), new Map([['ERR_PROVIDER_LOST', handed]]))
  const next = await provide('next')
  assert.deepEqual(await caller.flood([[1, Op.CALL, 'S', method, [], 600_000]]), [], 'not refused')
  assert.equal(
    ((await next.request(Op.STATS))[2] as { services: { inFlight: number }[] }).services[0]?.inFlight,
    1,
  )
})

// The registry holds 1 MiB of names in all (each provider's service, methods and client), so SERVICES
// and STATS replies stay about that size: before, 16 sessions of 1,024 providers named in 1.5 KiB
// made every SERVICES reply about 25 MB and a second of the loop, and clients asking for it again and
// again stalled the others past their heartbeat (outside audit). A listing that is costly to build is
// built at most once per ten times its cost.
test('hostile: the provider registry holds 1 MiB of names; SERVICES and STATS asked again and again hold no other client', async (t) => {
  const server = fixture(t, 'server', [
    JSON.stringify({ address: addressFor(t, 'ipc'), heartbeatMs: 10_000 }),
  ])
  const { address } = (await server.event(1)) as { address: string }
  const codes = new Map<string, number>()
  for (let s = 0; s < 2; s++) {
    const filler = await rawCaller(t, address)
    const provides = Array.from({ length: 1_024 }, (_, p) => [
      10 + p,
      Op.PROVIDE,
      `s${s}.${p}.`.padEnd(1_024, 's'),
      [`m${p}.`.padEnd(512, 'm')],
      1,
      p,
    ])
    for (const reply of await filler.flood(provides)) {
      const code = reply[1] === Status.OK ? 'ok' : String(reply[2])
      codes.set(code, (codes.get(code) ?? 0) + 1)
    }
  }
  // Each provider: 1,024 + 512 bytes of names, and 3 of its client's ('raw').
  const admitted = Math.floor(MAX_REGISTRY_BYTES / (1_024 + 512 + 3))
  assert.deepEqual(
    codes,
    new Map([
      ['ok', admitted],
      ['ERR_OVERFLOW', 2_048 - admitted],
    ]),
  )
  const asker = await rawCaller(t, address)
  const [listing] = await asker.flood([[1, Op.SERVICES, true]])
  assert.equal((listing![2] as unknown[]).length, admitted)
  assert.ok(encode(listing).length < 1.5 * MiB, `a SERVICES reply of ${encode(listing).length} bytes`)

  const observer = await connect(address)
  t.after(() => observer.close())
  const askers = await Promise.all([1, 2, 3].map(() => rawCaller(t, address)))
  let asking = true
  const asked = askers.map(async (raw) => {
    for (let id = 1; asking; id += 3)
      await raw.flood([
        [id, Op.SERVICES, true],
        [id + 1, Op.SERVICES],
        [id + 2, Op.STATS],
      ])
  })
  let worst = 0
  for (let i = 0; i < 100; i++) {
    const started = performance.now()
    await observer.state.set('k', i)
    worst = Math.max(worst, performance.now() - started)
  }
  asking = false
  await Promise.all(asked)
  t.diagnostic(`another client's slowest write meanwhile: ${worst.toFixed(0)} ms`)
  assert.ok(worst < 1_000, `another client's write took ${worst.toFixed(0)} ms`)
})

// 300,000 queued calls answered in one pass held the loop about 0.7 s (1.3 s here): longer than a
// client's heartbeat silence allows. They fail a slice at a time instead.
test('hostile: calls queued by the hundred thousand fail a slice at a time when their last provider goes, holding no other client', async (t) => {
  // The server in a process of its own: what the other client measures is its loop, not this one's.
  const server = fixture(t, 'server', [
    JSON.stringify({ address: addressFor(t, 'ipc'), maxQueuedCalls: 1_000_000, heartbeatMs: 10_000 }),
  ])
  const { address } = (await server.event(1)) as { address: string }
  const provider = await session(t, address, 'provider')
  assert.equal((await provider.request(Op.PROVIDE, 'S', ['m'], 1, 1))[1], Status.OK)
  const caller = await rawCaller(t, address)
  const calls = 300_000
  await caller.flood(Array.from({ length: calls }, (_, i) => [100 + i, Op.CALL, 'S', 'm', [], 600_000]))
  const observer = await connect(address)
  t.after(() => observer.close())
  let worst = 0
  let failing = true
  const writing = (async () => {
    for (let i = 0; failing; i++) {
      const started = performance.now()
      await observer.state.set('k', i)
      worst = Math.max(worst, performance.now() - started)
    }
  })()
  await observer.state.sync()
  await provider.request(Op.BYE)
  // Every call gets its error: the one the provider held ERR_PROVIDER_LOST, the queued ones ERR_NO_PROVIDER.
  const codes = await caller.tally(calls)
  failing = false
  await writing
  assert.deepEqual(
    codes,
    new Map([
      ['ERR_PROVIDER_LOST', 1],
      ['ERR_NO_PROVIDER', calls - 1],
    ]),
  )
  t.diagnostic(`another client's slowest write while they failed: ${worst.toFixed(0)} ms`)
  assert.ok(worst < 1_000, `another client's write took ${worst.toFixed(0)} ms`)
})

test('hostile: increments and compareAndSets of a large stored value cost their own size, not the value’s', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  const big: Record<string, number> = {}
  for (let i = 0; i < 300_000; i++) big[`k${i}`] = i
  await writer.state.set('big', big)
  await writer.state.set('text', 'x'.repeat(1 << 20))
  const attacker = await rawCaller(t, server.address)
  // 1,000 tiny requests, each of which decoded the whole value (about 0.35 s each for this one).
  const requests = Array.from({ length: 1_000 }, (_, i) =>
    i % 2 === 0
      ? [10 + i, Op.INCREMENT, i % 4 === 0 ? 'big' : 'text', 1]
      : [10 + i, Op.CAS, i % 4 === 1 ? 'big' : 'text', false, i % 3 === 0 ? { k0: 0 } : 'x', 1],
  )
  const started = performance.now()
  const [replies] = await Promise.all([attacker.flood(requests, 1_000), writer.state.set('after', 1)])
  const took = performance.now() - started
  for (const [id, status, ...rest] of replies) {
    const request = requests[id - 10]!
    if (request[1] === Op.INCREMENT) {
      const shown = request[2] === 'big' ? 'an instance of Object' : 'string'
      assert.deepEqual(
        [status, rest[0], rest[1]],
        [
          Status.ERROR,
          'ERR_INVALID_ARGUMENT',
          `increment: "${String(request[2])}" holds ${shown}, not a number`,
        ],
      )
    } else assert.deepEqual([status, ...rest], [Status.OK, 0], 'no match, nothing committed')
  }
  assert.equal(replies.length, 1_000, JSON.stringify(replies.slice(0, 3)))
  assert.ok(took < 5_000, `1,000 requests and another client's write took ${took.toFixed(0)} ms`)
  // A compareAndSet as large as the value still compares it.
  assert.equal(await writer.state.compareAndSet('big', big, 'replaced'), true)
})

// Sessions cost nothing to open, and a snapshot in progress holds every entry of the store as of its
// revision until its last page is fetched: started and never finished, they held as many stores' worth
// as there were sessions (33 MB per million keys each). Snapshots at one revision share a capture.
test('hostile: unfinished snapshots hold a bounded number of entries; idle ones make room, and clients still join', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  // STORES_HELD × keys exceeds MIN_HELD_ENTRIES: the store's size decides; pages of 1 MiB take a few.
  const keys = Math.ceil(MIN_HELD_ENTRIES / STORES_HELD) + 10_000
  for (let from = 0; from < keys; from += 5_000) {
    const values: Record<string, string> = {}
    for (let i = from; i < Math.min(keys, from + 5_000); i++) values[`key/${i}`] = 'v'.repeat(60)
    await writer.state.update(values)
  }
  const raw: { peer: Awaited<ReturnType<typeof session>>; next: unknown }[] = []
  const starts: unknown[] = []
  // A snapshot started at a revision of its own (a write before it) takes a capture of its own; one
  // started at the revision of another's shares that one.
  const start = async (write: boolean): Promise<void> => {
    if (write) await writer.state.set('key/0', `written before snapshot ${raw.length}`)
    const peer = await session(t, server.address, `snapshotter ${raw.length}`)
    // [id, OK, epoch, revision, next, acks, entries] or [id, ERROR, code, message]
    const reply = await peer.request(Op.SNAPSHOT, null)
    raw.push({ peer, next: reply[4] })
    starts.push(reply[1] === Status.OK ? 'held' : reply[2])
  }
  for (let i = 0; i < STORES_HELD; i++) await start(true)
  await start(false)
  await start(true)
  assert.deepEqual(starts, [...Array<string>(STORES_HELD + 1).fill('held'), 'ERR_OVERFLOW'])
  // The sessions stay alive (PING), so only their snapshots' idleness can make room, never their end.
  const alive = setInterval(() => raw.forEach(({ peer }) => void peer.request(Op.PING)), 500)
  t.after(() => clearInterval(alive))
  // A client joining now is refused room until the oldest capture has been idle for IDLE_MS, then
  // takes its place; it asks again meanwhile, within its join timeout.
  const late = await connect(server.address, { timeout: 4 * IDLE_MS })
  t.after(() => late.close())
  assert.equal(late.state.size, keys)
  // The oldest one was dropped, and its next page says so (start again); the others hold.
  const [, dropped, code] = await raw[0]!.peer.request(Op.SNAPSHOT, raw[0]!.next)
  assert.deepEqual([dropped, code], [Status.ERROR, 'ERR_OVERFLOW'])
  const [, kept] = await raw[1]!.peer.request(Op.SNAPSHOT, raw[1]!.next)
  assert.equal(kept, Status.OK)
})

// A snapshot's cursor is its session's: another session that names it learns nothing of it (outside
// audit: it was told the cursor was "no longer held", as if it had been its own), and the owner's
// snapshot goes on.
test('hostile: another session’s snapshot cursor is unknown to a session; its owner reads on', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  // Pages of about 1 MiB: two values on the first, the third on the next.
  await writer.state.update({ a: 'a'.repeat(700_000), b: 'b'.repeat(700_000), c: 'c'.repeat(700_000) })
  const owner = await session(t, server.address, 'owner')
  const other = await session(t, server.address, 'other')
  const first = await owner.request(Op.SNAPSHOT, null)
  const cursor = first[4]
  assert.equal(typeof cursor, 'number', 'the first page names the next')
  assert.deepEqual((await other.request(Op.SNAPSHOT, cursor)).slice(1, 4), [
    Status.ERROR,
    'ERR_PROTOCOL',
    `unknown snapshot cursor ${String(cursor)}`,
  ])
  const second = await owner.request(Op.SNAPSHOT, cursor)
  assert.equal(second[1], Status.OK)
  assert.equal((first[6] as unknown[]).length + (second[6] as unknown[]).length, 3)
})
