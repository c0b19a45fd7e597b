// What the server accepts, every client can read: attacks through a raw socket on the values the
// server stores. Each is refused with its code, changes nothing, and leaves the server serving.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { connect, isZStateError, type Client } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, Status } from '../lib/protocol/ops.ts'
import { decodeStrict } from '../lib/protocol/strict-decode.ts'
import { rawPeer, withBytes, type Reply } from './raw-peer.ts'
import { clientFor, serverFor } from './support.ts'

// Bytes that are not UTF-8: a surrogate as CESU-8 writes it (what msgpackr sends for '\uD800'),
// another one, a stray byte, an overlong encoding.
const NOT_UTF8 = ['eda080', 'edb080', 'ff', 'c0af'].map((hex) => Buffer.from(hex, 'hex'))

function codeOf(reply: Reply): unknown {
  return reply[1] === Status.ERROR ? reply[2] : 'ok'
}

// A server whose store holds `initial`, a client that wrote it, and a raw peer.
async function setup(t: TestContext, initial: Record<string, unknown>) {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await client.state.update(initial)
  const peer = await rawPeer(t, server.address)
  return { server, client, peer }
}

// Nothing changed, and the server still serves: a fresh client joins and reads the same store.
async function assertUnchanged(address: string, client: Client, revision: number, expected: object) {
  assert.equal(await client.state.sync(), revision, 'no revision was committed')
  const fresh = await connect(address)
  try {
    assert.equal(fresh.state.revision, revision)
    assert.deepEqual(fresh.state.snapshot(), expected)
    assert.deepEqual(client.state.snapshot(), expected)
  } finally {
    await fresh.close()
  }
}

test('strict values: a TXN patch that would leave a hole, or change a Date or Uint8Array in place, commits nothing', async (t) => {
  const initial = {
    list: [1, 2],
    when: new Date(0),
    bytes: new Uint8Array([1, 2, 3]),
    deep: { a: [{ b: 1 }] },
    media: { bytes: new Uint8Array([4, 5]), when: new Date(1) },
    other: { n: 0 },
  }
  const { server, client, peer } = await setup(t, initial)
  const revision = client.state.revision
  const [, , epoch] = await peer.request(Op.SYNC)
  const txn = (...writes: unknown[]) => peer.request(Op.TXN, epoch, revision, [], false, writes)
  const patch = (key: string, ...patches: unknown[]) => [key, 1, patches]
  for (const [name, write, code] of [
    ['replace past the end', patch('list', [0, [5], 9]), 'ERR_UNENCODABLE'],
    ['add past the end', patch('list', [1, [3], 9]), 'ERR_UNENCODABLE'],
    ['a longer length', patch('list', [0, ['length'], 10]), 'ERR_UNENCODABLE'],
    ['a named property of an array', patch('list', [1, ['x'], 1]), 'ERR_UNENCODABLE'],
    ['an index as a string', patch('list', [0, ['0'], 1]), 'ERR_UNENCODABLE'],
    ['a hole deeper down', patch('deep', [0, ['a', 3], 1]), 'ERR_UNENCODABLE'],
    ['a byte of a Uint8Array', patch('bytes', [0, [0], 255]), 'ERR_UNENCODABLE'],
    ['a property of a Date', patch('when', [1, ['x'], 1]), 'ERR_UNENCODABLE'],
    ['a byte of a nested Uint8Array', patch('media', [0, ['bytes', 0], 255]), 'ERR_UNENCODABLE'],
    ['a property of a nested Date', patch('media', [1, ['when', 'x'], 1]), 'ERR_UNENCODABLE'],
    [
      'a value nested too deep at its path',
      patch('deep', [0, ['a', 0, 'b'], JSON.parse('['.repeat(511) + ']'.repeat(511))]),
      'ERR_PROTOCOL',
    ],
    ['removing what is not there', patch('list', [2, [7]]), 'ERR_INVALID_ARGUMENT'],
    ['a path through a number', patch('list', [0, [0, 'x'], 1]), 'ERR_INVALID_ARGUMENT'],
    ['an absent key', patch('absent', [0, ['x'], 1]), 'ERR_INVALID_ARGUMENT'],
  ] as const) {
    assert.equal(codeOf(await txn(write)), code, name)
    // With a valid write of another key beside it: nothing of the transaction commits.
    assert.equal(
      codeOf(await txn(patch('other', [0, ['n'], 7]), write)),
      code,
      `${name}, beside a valid write`,
    )
  }
  await assertUnchanged(server.address, client, revision, initial)
  // The same transaction, valid, commits: the refusals above were about the patches.
  const [, status, committed] = await txn(patch('list', [0, [1], 7], [1, [2], 8], [1, ['-'], 9]))
  assert.equal(status, Status.OK)
  assert.equal(committed, revision + 1)
  await client.state.sync()
  assert.deepEqual(client.state.get('list'), [1, 7, 8, 9])
  // Through the public API, neither a hole nor a value too deep where it goes leaves the client.
  for (const fn of [
    (draft: Record<string, unknown>) => {
      ;(draft['list'] as number[])[9] = 1
    },
    (draft: Record<string, unknown>) => {
      ;(draft['deep'] as { a: { b: unknown }[] }).a[0]!.b = JSON.parse('['.repeat(511) + ']'.repeat(511))
    },
  ]) {
    await assert.rejects(
      client.state.atomic(fn),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE',
    )
  }
  await assertUnchanged(server.address, client, revision + 1, { ...initial, list: [1, 7, 8, 9] })
})

test('strict values: strings that are not UTF-8 are refused, in keys with ERR_INVALID_ARGUMENT, in values with ERR_UNENCODABLE', async (t) => {
  const { server, client, peer } = await setup(t, { k: 'before', o: {} })
  const revision = client.state.revision
  const [, , epoch] = await peer.request(Op.SYNC)
  // Each request with a placeholder `p` where the bytes go.
  const requests: [string, (p: string) => unknown[], string][] = [
    ['set: key', (p) => [Op.SET, `k${p}`, 1], 'ERR_INVALID_ARGUMENT'],
    ['set: value', (p) => [Op.SET, 'k', `v${p}`], 'ERR_UNENCODABLE'],
    ['set: a long value', (p) => [Op.SET, 'k', `${'v'.repeat(100)}${p}`], 'ERR_UNENCODABLE'],
    ['set: a map key in the value', (p) => [Op.SET, 'k', { ok: 1, [`k${p}`]: 1 }], 'ERR_UNENCODABLE'],
    ['set: deep in the value', (p) => [Op.SET, 'k', { a: [{ b: [`v${p}`] }] }], 'ERR_UNENCODABLE'],
    ['update: key', (p) => [Op.UPDATE, [[`k${p}`, 1]]], 'ERR_INVALID_ARGUMENT'],
    ['update: value', (p) => [Op.UPDATE, [['k', `v${p}`]]], 'ERR_UNENCODABLE'],
    ['compareAndSet: next', (p) => [Op.CAS, 'k', false, 'before', `v${p}`], 'ERR_UNENCODABLE'],
    ['txn: set', (p) => [Op.TXN, epoch, revision, [], false, [['k', 0, `v${p}`]]], 'ERR_UNENCODABLE'],
    [
      'txn: patch value',
      (p) => [Op.TXN, epoch, revision, [], false, [['o', 1, [[0, ['x'], `v${p}`]]]]],
      'ERR_UNENCODABLE',
    ],
    [
      'txn: patch path',
      (p) => [Op.TXN, epoch, revision, [], false, [['o', 1, [[0, [`k${p}`], 1]]]]],
      'ERR_UNENCODABLE',
    ],
    ['publish: topic', (p) => [Op.PUBLISH, `t${p}`, 1], 'ERR_PROTOCOL'],
  ]
  for (const bytes of NOT_UTF8) {
    const placeholder = '#'.repeat(bytes.length)
    for (const [name, request, code] of requests) {
      const frame = withBytes(encode([[1, ...request(placeholder)]]), placeholder, bytes)
      // Small frames and large ones take different paths through msgpackr: try both.
      for (const sent of [frame, behindLongString(frame)]) {
        const [reply] = await peer.send(sent)
        assert.equal(codeOf(reply!), code, `${name} (${bytes.toString('hex')}, ${sent.length} bytes)`)
      }
    }
  }
  await assertUnchanged(server.address, client, revision, { k: 'before', o: {} })
  // U+FFFD itself is a character like any other, in keys and values alike.
  const [, status] = await peer.request(Op.SET, '\uFFFD', { '\uFFFD': 'a\uFFFD' })
  assert.equal(status, Status.OK)
  await client.state.sync()
  assert.deepEqual(client.state.get('\uFFFD'), { '\uFFFD': 'a\uFFFD' })
  // Through the public API, lone surrogates never leave the client (msgpackr would send them as
  // the first two byte sequences above).
  const refused = (code: string) => (e: unknown) => isZStateError(e) && e.code === code
  await assert.rejects(client.state.set('k\uD800', 1), refused('ERR_INVALID_ARGUMENT'))
  await assert.rejects(client.state.set('k', 'v\uDC00'), refused('ERR_UNENCODABLE'))
  await assert.rejects(client.state.set('k', { '\uD83D': 1 }), refused('ERR_UNENCODABLE'))
  await assert.rejects(
    client.state.atomic((draft: Record<string, unknown>) => {
      draft['k'] = ['\uD800']
    }),
    refused('ERR_UNENCODABLE'),
  )
  await assert.rejects(client.publish('topic\uD800', 1), refused('ERR_INVALID_ARGUMENT'))
  assert.throws(() => client.state.scope('\uD83D'), refused('ERR_INVALID_ARGUMENT'))
  await assertUnchanged(server.address, client, revision + 1, {
    k: 'before',
    o: {},
    '\uFFFD': { '\uFFFD': 'a\uFFFD' },
  })
})

// A value of `levels` arrays, each holding the next, the innermost 1, as MessagePack.
const nested = (levels: number): Buffer => Buffer.concat([Buffer.alloc(levels, 0x91), Buffer.from([1])])

test('strict values: values nest 512 levels, on the server as in the client; deeper is ERR_PROTOCOL, however deep, and the rest of the frame is served', async (t) => {
  const { server, client, peer } = await setup(t, {})
  const levels = [512, 513, 5_000, 200_000]
  // [[1, PING], [2, SET, 'd512', …], …, [6, PING]], the values written by hand: no encoder nests so deep.
  const frame = Buffer.concat([
    Buffer.from([0x90 + levels.length + 2]),
    encode([1, Op.PING]),
    ...levels.map((n, i) =>
      Buffer.concat([Buffer.from([0x94]), encode(i + 2), encode(Op.SET), encode(`d${n}`), nested(n)]),
    ),
    encode([levels.length + 2, Op.PING]),
  ])
  const replies = await peer.send(frame)
  assert.deepEqual(
    replies.map((reply) => [reply[0], codeOf(reply), reply[1] === Status.ERROR ? reply[3] : undefined]),
    [
      [1, 'ok', undefined],
      [2, 'ok', undefined],
      ...levels.slice(1).map((_, i) => [i + 3, 'ERR_PROTOCOL', 'value nested too deeply']),
      [levels.length + 2, 'ok', undefined],
    ],
  )
  await client.state.sync()
  const stored = client.state.get('d512')
  assert.deepEqual(stored, decode(nested(512)))
  assert.equal(client.state.has('d513'), false)
  // The client writes what it read back, and refuses one level more, as the server does.
  await client.state.set('copy', stored)
  await assert.rejects(
    client.state.set('deeper', [stored]),
    (e: unknown) =>
      isZStateError(e) && e.code === 'ERR_UNENCODABLE' && /deeper than 512 levels/.test(e.message),
  )
  await assertUnchanged(server.address, client, client.state.revision, { d512: stored, copy: stored })
})

test('strict values: a map key "__proto__" is refused, never stored as "__proto_"', async (t) => {
  const { server, client, peer } = await setup(t, { o: { a: 1 } })
  const revision = client.state.revision
  const [, , epoch] = await peer.request(Op.SYNC)
  const proto = Buffer.from('__proto__')
  for (const [name, request] of [
    ['set', [Op.SET, 'k', { '#_proto__': 1 }]],
    ['set, nested', [Op.SET, 'k', { a: [{ '#_proto__': { polluted: true } }] }]],
    ['update', [Op.UPDATE, [['k', { '#_proto__': 1 }]]]],
    ['txn: patch value', [Op.TXN, epoch, revision, [], false, [['o', 1, [[0, ['b'], { '#_proto__': 1 }]]]]]],
  ] as const) {
    const [reply] = await peer.send(withBytes(encode([[1, ...request]]), '#_proto__', proto))
    assert.equal(codeOf(reply!), 'ERR_UNENCODABLE', name)
  }
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
  await assertUnchanged(server.address, client, revision, { o: { a: 1 } })
  // A key "__proto_" is just a key.
  const [, status] = await peer.request(Op.SET, 'k', { __proto_: 1 })
  assert.equal(status, Status.OK)
  await client.state.sync()
  assert.deepEqual(Object.keys(client.state.get('k') as object), ['__proto_'])
})

test('strict values: frames decode as msgpackr decodes them, except what it cannot show', () => {
  const value = fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withObjectString: true,
    key: fc.string({ unit: 'grapheme' }),
    values: [
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary', minLength: 30, maxLength: 300 }).filter((s) => s.isWellFormed()),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.date({ noInvalidDate: true }), // an invalid Date is never deep-equal to itself
      fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    ],
  })
  fc.assert(
    fc.property(value, (v) => {
      let frame: Buffer
      try {
        frame = encode(v)
      } catch {
        return // beyond what msgpackr encodes (a bigint outside int64)
      }
      fc.pre(!frame.includes('__proto__'))
      assert.deepEqual(decodeStrict(frame), decode(frame))
    }),
    { numRuns: 2_000 },
  )
  // msgpackr writes a lone surrogate as bytes that are not UTF-8: they come back ill-formed, not as
  // U+FFFD; so do other extensions than the timestamp, as undefined.
  const decoded = decodeStrict(encode(['\uD800', { 'a\uDC00': 1 }, undefined, new Date(5)])) as unknown[]
  assert.equal((decoded[0] as string).isWellFormed(), false)
  assert.equal(Object.keys(decoded[1] as object)[0]!.isWellFormed(), false)
  assert.deepEqual(decoded.slice(2), [undefined, new Date(5)])
  // Only the strings that were not UTF-8: U+FFFD beside them is kept.
  const mixed = decodeStrict(
    withBytes(encode(['\uFFFD', 'a##', { '\uFFFD': '\uFFFD' }]), '##', Buffer.from('c0af', 'hex')),
  )
  assert.deepEqual(mixed, ['\uFFFD', '\uDC00', { '\uFFFD': '\uFFFD' }])
  // Malformed frames are still refused: truncated, trailing bytes.
  for (const frame of [encode([1, 'abc']).subarray(0, -1), Buffer.concat([encode(1), Buffer.from([0])])]) {
    assert.throws(
      () => decodeStrict(frame),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_PROTOCOL',
    )
  }
})

// The one request of `frame` behind another that holds a long string (and changes nothing): msgpackr
// then reads the frame's strings natively rather than in JavaScript.
function behindLongString(frame: Buffer): Buffer {
  const other = encode([2, Op.CLEAR, 'no such prefix '.repeat(20)])
  return Buffer.concat([Buffer.from([0x92]), other, frame.subarray(1)])
}
