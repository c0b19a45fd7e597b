import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Dealer } from 'zeromq'
import { isZStateError } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { clientFor, serverFor, stress } from './support.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { serverStats } from '../lib/client/server-stats.ts'

// A raw DEALER speaking (or mangling) the wire protocol.
async function rawPeer(address: string, hello: boolean) {
  const dealer = new Dealer({ linger: 0 })
  dealer.connect(address)
  const request = async (frame: Buffer): Promise<unknown> => {
    await dealer.send(frame)
    return decode(fromParts(await dealer.receive(), 0)!)
  }
  if (hello) await request(encode([[1, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', 1, 'raw']]))
  return { dealer, request }
}

// Requests that are wrong in every way a client could get them wrong: none is valid.
const badRequest = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: Math.max(...Object.values(Op)) + 1, max: 1000 })), // unknown op
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(Op.SET, Op.DELETE, Op.INCREMENT, Op.CAS, Op.UPDATE, Op.HISTORY, Op.SNAPSHOT, Op.ECHO),
      fc.anything({ maxDepth: 2 }),
    )
    .map(([id, op, arg]) =>
      op === Op.SNAPSHOT && arg === null ? [id, op, 'x'] : [id, op, arg, arg, arg, arg, arg],
    ), // wrong arity
  fc.tuple(
    fc.nat(),
    fc.constant(Op.SET),
    fc.oneof(fc.integer(), fc.constant(''), fc.constant('__proto__'), fc.boolean()),
    fc.anything(),
  ), // bad key
  fc.tuple(
    fc.nat(),
    fc.constant(Op.INCREMENT),
    fc.constant('n'),
    fc.oneof(fc.string(), fc.constant(null), fc.constantFrom(NaN, Infinity, -Infinity)),
  ), // bad increment
  fc.tuple(
    fc.nat(),
    fc.constant(Op.CAS),
    fc.constant('k'),
    fc.oneof(fc.string(), fc.integer()),
    fc.anything(),
    fc.anything(),
  ), // bad flag
  fc.tuple(
    fc.nat(),
    fc.constant(Op.UPDATE),
    fc.oneof(fc.constant([]), fc.array(fc.tuple(fc.integer(), fc.anything()), { minLength: 1 })),
  ), // bad pairs
  fc.tuple(fc.nat(), fc.constant(Op.HISTORY), fc.oneof(fc.string(), fc.constant(-1)), fc.anything()),
)
const badFrame = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), // random bytes
  fc.anything({ maxDepth: 3 }).map((value) => encode(value)), // random MessagePack
  fc.array(badRequest, { minLength: 1, maxLength: 5 }).map((requests) => encode(requests)), // wrong requests
  fc.array(badRequest, { minLength: 1, maxLength: 3 }).map((requests) => encode(requests).subarray(0, -1)), // truncated
  fc
    .array(badRequest, { minLength: 1, maxLength: 3 })
    .map((requests) => Buffer.concat([encode(requests), Buffer.from([0xc1])])), // trailing
)

test('bad input: thousands of random frames never crash the server nor change the store', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await client.state.update({ a: 1, b: { c: [1, 2] } })
  const before = await client.state.sync()
  const { dealer } = await rawPeer(server.address, true)
  t.after(() => dealer.close())
  const runs = stress ? 20_000 : Number(process.env.RUNS ?? 3_000)
  let sent = 0
  await fc.assert(
    fc.asyncProperty(badFrame, async (frame) => {
      await dealer.send(frame)
      sent++
    }),
    { numRuns: runs },
  )
  // A sentinel after the flood: once it is answered, every earlier frame was handled.
  const sentinel = encode([[999_999_999, Op.SYNC]])
  await dealer.send(sentinel)
  for (;;) {
    const replies = decode(fromParts(await dealer.receive(), 0)!) as unknown[][]
    const errors = replies.filter((r) => r[1] === 1).map((r) => r[2])
    for (const code of errors)
      assert.ok(
        [
          'ERR_PROTOCOL',
          'ERR_INVALID_ARGUMENT',
          'ERR_UNENCODABLE',
          'ERR_TOO_LARGE',
          'ERR_COMPACTED',
        ].includes(code as string),
        String(code),
      )
    if (replies.some((r) => r[0] === 999_999_999)) break
  }
  assert.equal(sent, runs)
  assert.equal(await client.state.sync(), before, 'no revision was committed')
  assert.deepEqual(client.state.snapshot(), { a: 1, b: { c: [1, 2] } })
  assert.equal(await client.state.set('still', 'works'), before + 1)
  const info = await client.server()
  assert.ok(info.droppedFrames > 0, 'frames without a request id were counted')
  assert.equal(info.clients, 2)
})

test('bad input: each malformed request gets a coded reply; requests without an id are dropped', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { dealer, request } = await rawPeer(server.address, false)
  t.after(() => dealer.close())
  assert.deepEqual(await request(encode([[1, Op.SET, 'k', 1]])), [
    [1, 1, 'ERR_DISCONNECTED', 'no session with this server: send HELLO first'],
  ])
  const hello = (await request(encode([[2, Op.HELLO, 99, 'aaaaaaaaaaaaaaaa', 1, 'x']]))) as unknown[][]
  assert.equal(hello[0]![2], 'ERR_PROTOCOL')
  // A client of the previous protocol is told which version it sent and which one the server speaks.
  const old = PROTOCOL_VERSION - 1
  const previous = (await request(encode([[2, Op.HELLO, old, 'aaaaaaaaaaaaaaaa', 1, 'x']]))) as unknown[][]
  assert.equal(previous[0]![2], 'ERR_PROTOCOL')
  assert.equal(previous[0]![3], `unsupported protocol version ${old}; this server speaks ${PROTOCOL_VERSION}`)
  await request(encode([[3, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', 1, 'x']]))
  const replies = (await request(
    encode([
      ['no id', Op.SYNC],
      [4, 77],
      [5, Op.SET, 'k'],
      [6, Op.SET, 'k', 1], // commits: acknowledged by its published commit, not a reply
      [7, Op.SYNC],
    ]),
  )) as unknown[][]
  assert.deepEqual(
    replies.map((r) => [r[0], r[1], r[1] === 1 ? r[2] : 'ok']),
    [
      [4, 1, 'ERR_PROTOCOL'],
      [5, 1, 'ERR_PROTOCOL'],
      [7, 0, 'ok'],
    ],
  )
  assert.equal(replies[2]![3], 1, 'the set committed revision 1')
  // Messaging requests of the wrong shape: a reply where they carry an id, nothing with id 0.
  const messaging = (await request(
    encode([
      [8, Op.WITHDRAW],
      [9, Op.WITHDRAW, 1, 2, 3],
      [10, Op.WITHDRAW, 'x'],
      [11, Op.CANCEL],
      [12, Op.CANCEL, 'x'],
      [13, Op.RESULT, 'x', 'y'],
      [14, Op.RESULT, 1],
      [0, Op.CANCEL, 'x'],
      [0, Op.RESULT],
      [15, Op.SYNC],
    ]),
  )) as unknown[][]
  assert.deepEqual(
    messaging.map((r) => [r[0], r[1] === 1 ? r[2] : 'ok']),
    [8, 9, 10, 11, 12, 13, 14].map((id) => [id, 'ERR_PROTOCOL']).concat([[15, 'ok']]),
  )
})

test('bad input: oversized messages are ERR_TOO_LARGE, refused locally by clients', async (t) => {
  const server = await serverFor(t, 'ipc', { maxMessageBytes: 64 * 1024 })
  const { dealer, request } = await rawPeer(server.address, true)
  t.after(() => dealer.close())
  const huge = encode([[7, Op.SET, 'k', 'x'.repeat(100_000)]])
  assert.deepEqual(((await request(huge)) as unknown[][])[0]!.slice(0, 3), [7, 1, 'ERR_TOO_LARGE'])
  const client = await clientFor(server)
  await assert.rejects(
    client.state.set('k', 'x'.repeat(100_000)),
    (e: unknown) => isZStateError(e) && e.code === 'ERR_TOO_LARGE',
  )
  assert.equal(await client.state.sync(), 0)
  await client.state.set('fits', 'x'.repeat(30_000))
  // Writes in flight together go in as many messages as the limit needs; only one over it alone fails.
  const outcomes = await Promise.allSettled(
    ['a', 'b', 'huge', 'c', 'd'].map((key) =>
      client.state.set(key, 'x'.repeat(key === 'huge' ? 100_000 : 40_000)),
    ),
  )
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  )
  const refused = (outcomes[2] as PromiseRejectedResult).reason as unknown
  assert.ok(isZStateError(refused) && refused.code === 'ERR_TOO_LARGE', String(refused))
  assert.deepEqual(
    ['a', 'b', 'huge', 'c', 'd'].map((key) => client.state.has(key)),
    [true, true, false, true, true],
  )
})

test('bad input: a peer that never reads its replies does not slow anyone else', async (t) => {
  const server = await serverFor(t, 'ipc')
  const { dealer } = await rawPeer(server.address, true)
  t.after(() => dealer.close())
  const client = await clientFor(server)
  // The deaf peer asks for ~200 MB of replies and reads none; meanwhile a client keeps writing.
  const ask = encode(Array.from({ length: 50 }, (_, i) => [i + 1, Op.INFO]))
  let flooding = true
  const flood = (async () => {
    for (let i = 0; flooding && i < 20_000; i++) await dealer.send(ask)
  })()
  const n = stress ? 20_000 : 2_000
  for (let i = 1; i <= n; i++) await client.state.set('x', i)
  flooding = false
  await flood
  assert.equal(client.state.get('x'), n)
  assert.equal(await client.state.sync(), n)
})

test('bad input: a peer that stops reading for a while gets every reply, in order, once it reads again', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  // A turn sends a peer its replies as one message, so each frame gets a turn of its own: about 140 of
  // these ~3 kB messages fill the peer's pipe (the server's 64, the kernel's buffer, the peer's one),
  // and most of the 400 wait in the server's backlog for this peer.
  await client.state.set('big', 'x'.repeat(3_000))
  const dealer = new Dealer({ linger: 0, receiveHighWaterMark: 1 })
  t.after(() => dealer.close())
  dealer.connect(server.address)
  await dealer.send(encode([[1, Op.HELLO, PROTOCOL_VERSION, 'bbbbbbbbbbbbbbbb', 1, 'slow reader']]))
  await dealer.receive()
  const frames = 400
  const before = await serverStats(client)
  // Each frame also sets n (request id 0: no reply): n = id says the frame was handled, its turn over.
  for (let id = 1; id <= frames; id++) {
    await dealer.send(
      encode([
        [id, Op.SNAPSHOT, null],
        [0, Op.SET, 'n', id],
      ]),
    )
    await client.state.whenEqual('n', id, { timeout: 10_000 })
  }
  // At most one send is in flight: had the pipe taken them all, all but one would count as sent (and
  // the client's STATS replies count too).
  const sent = (await serverStats(client)).messagesOut - before.messagesOut
  assert.ok(sent < frames / 2, `${sent} of ${frames} replies were sent: the backlog was not exercised`)
  const ids: number[] = []
  while (ids.length < frames) {
    const replies = decode(fromParts(await dealer.receive(), 0)!) as [number, number, ...unknown[]][]
    for (const [id, status] of replies) {
      assert.equal(status, Status.OK)
      ids.push(id)
    }
  }
  assert.deepEqual(
    ids,
    Array.from({ length: frames }, (_, i) => i + 1),
  )
  // Still a session: nothing was dropped or forgotten.
  await dealer.send(encode([[frames + 1, Op.STATS]]))
  const [[id, status]] = decode(fromParts(await dealer.receive(), 0)!) as [[number, number]]
  assert.deepEqual([id, status], [frames + 1, Status.OK])
})
