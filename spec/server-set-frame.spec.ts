// Plain sets keep the bytes of their values (lib/server/set-frame.ts): what the scan takes must read,
// in every replica, exactly as the full path (decodeStrict, then the value model, then encoding it
// again) would have stored it; anything it does not take goes the full path.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { connect } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { ChangeKind, Op, Status, type WireChange } from '../lib/protocol/ops.ts'
import { decodeStrict } from '../lib/protocol/strict-decode.ts'
import { adoptDecoded } from '../lib/protocol/values.ts'
import { encodeChange, encodeCommit, keptEncoded } from '../lib/server/change-encoding.ts'
import { EncodedValue, readSetFrame } from '../lib/server/set-frame.ts'
import { rawPeer } from './raw-peer.ts'
import { clientFor, serverFor } from './support.ts'

const hex = (text: string): Buffer => Buffer.from(text.replaceAll(' ', ''), 'hex')

// What a replica holds for a value whose MessagePack bytes are `bytes`.
function replicated(bytes: Uint8Array): unknown {
  return adoptDecoded(decode(bytes))
}

// The value as the full path stores it, read by a replica; undefined when the full path refuses it.
function throughFullPath(frame: Buffer): { id: unknown; key: unknown; value: unknown }[] | undefined {
  try {
    const requests = decodeStrict(frame) as unknown[][]
    return requests.map(([id, , key, value]) => ({ id, key, value: replicated(encode(adoptDecoded(value))) }))
  } catch {
    return undefined
  }
}

// A frame of one set whose value is `bytes`, as written.
function setFrame(bytes: Buffer, id = 7, key = 'k'): Buffer {
  return Buffer.concat([hex('91 94'), encode(id), encode(Op.SET), encode(key), bytes])
}

// A map of `count` keys k0, k1, … (and `repeated` once more at the end) as hex, each holding nil.
function mapOf(count: number, repeated?: string): string {
  const keys = Array.from({ length: count }, (_, i) => `k${i}`)
  if (repeated !== undefined) keys.push(repeated)
  return (
    'de' +
    keys.length.toString(16).padStart(4, '0') +
    keys.map((key) => encode(key).toString('hex') + 'c0').join('')
  )
}

// Taken by the scan: each request as the full path reads it, and its value as every replica does.
function assertSameAsFullPath(frame: Buffer): boolean {
  const fast = readSetFrame(frame)
  if (fast === undefined) return false
  const full = throughFullPath(frame)
  assert.ok(full !== undefined, `the full path refuses what the scan took: ${frame.toString('hex')}`)
  assert.equal(fast.length, full.length)
  fast.forEach((request, i) => {
    const [id, op, key, value] = request as [number, number, string, EncodedValue]
    assert.equal(op, Op.SET)
    assert.ok(value instanceof EncodedValue)
    assert.deepStrictEqual({ id, key, value: replicated(value.bytes) }, full[i])
  })
  return true
}

const storable = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), tie('value'), { maxKeys: 5 }),
  ),
})).value

test('set frames: any value a client can send reads in every replica as the full path stores it', () => {
  let taken = 0
  fc.assert(
    fc.property(storable, fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), (value, key) => {
      let frame: Buffer
      try {
        frame = encode([[1, Op.SET, key, value]])
      } catch {
        return
      }
      if (assertSameAsFullPath(frame)) taken++
    }),
    { numRuns: 3_000 },
  )
  assert.ok(taken > 1_000, `the scan took only ${taken} of 3,000 values`)
})

test('set frames: any bytes where a value goes are either taken as the full path reads them, or left to it', () => {
  const tokens = fc.array(
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 4 }),
      fc
        .constantFrom(
          ...[
            'c0',
            'c1',
            'c2',
            'ca 3f800000',
            'cb 8000000000000000',
            'cb 3ff0000000000000',
            'cf 8000000000000000',
          ],
          ...['cf 0000000000000005', 'd3 fffffffffffffffb', 'c4 02 0102', 'c6 00000001 ff', 'd9 03 616263'],
          ...['a9 5f5f70726f746f5f5f', 'd9 09 5f5f70726f746f5f5f', 'a2 eda0', 'd6 ff 00000001', 'd4 01 00'],
          ...[
            '81',
            '82',
            '91',
            '92',
            'de 0001',
            'dc 0002',
            'dd 00000001',
            'df 00000001',
            'a1 61',
            '01',
            'ff',
          ],
        )
        .map(hex),
    ),
    { maxLength: 12 },
  )
  let taken = 0
  fc.assert(
    fc.property(tokens, (parts) => {
      if (assertSameAsFullPath(setFrame(Buffer.concat(parts)))) taken++
    }),
    { numRuns: 20_000 },
  )
  assert.ok(taken > 500, `the scan took only ${taken} of 20,000 byte strings`)
})

test('set frames: what the scan leaves to the full path', () => {
  const value = encode({ a: [1, 'two', { b: null }], c: new Uint8Array([1]) })
  assert.ok(readSetFrame(setFrame(value)) !== undefined, 'a plain value is taken')
  assert.ok(readSetFrame(setFrame(hex(mapOf(12)))) !== undefined, 'a map of many distinct keys is taken')
  assert.ok(readSetFrame(setFrame(hex(mapOf(5_000)))) !== undefined, 'and of thousands')
  for (const [name, bytes] of [
    ['an extension other than the timestamp', 'd4 01 00'],
    ['a timestamp of an invalid Date', 'd4 ff ff'],
    ['a timestamp of whole seconds as fixext 8', 'd7 ff 00000000 00000001'],
    ['a timestamp of 500 ns', 'd7 ff ' + (500 * 4).toString(16).padStart(8, '0') + ' 00000001'],
    ['a timestamp of a billion ns', 'd7 ff ' + (1e9 * 4).toString(16).padStart(8, '0') + ' 00000001'],
    ['a timestamp of 1 s as ext 8', 'c7 0c ff 00000000 0000000000000001'],
    ['a timestamp past a Date’s range', 'c7 0c ff 00000000 00ffffffffffffff'],
    ['a timestamp of another length', 'c7 08 ff 0000000000000001'],
    ['0xC1', 'c1'],
    ['a uint 64 past int64', 'cf 8000000000000000'],
    ['a map key "__proto__" (fixstr)', '81 a9 5f5f70726f746f5f5f 01'],
    ['a map key "__proto__" (str 8)', '81 d9 09 5f5f70726f746f5f5f 01'],
    ['a map key that is a number', '81 01 01'],
    ['a string that is not UTF-8', 'a2 eda0'],
    ['a map key that is not UTF-8', '81 a2 eda0 01'],
    ['a map key twice', '82 a1 61 01 a1 61 02'],
    ['a map key twice, once as str 8', '82 a1 61 01 d9 01 61 02'],
    ['a map key twice among many', mapOf(12, 'k3')],
    ['a map key twice among thousands, first and last', mapOf(5_000, 'k0')],
    ['a map key twice among thousands, last two', mapOf(5_000, 'k4999')],
    ['a map saying it has more keys than its bytes hold', 'de ffff a1 61 01'],
    ['nested deeper than the scan goes', '91'.repeat(65) + 'c0'],
    ['truncated', '92 01'],
  ] as const)
    assert.equal(readSetFrame(setFrame(hex(bytes))), undefined, name)
  assert.equal(readSetFrame(Buffer.concat([setFrame(value), hex('00')])), undefined, 'trailing bytes')
  // Anything but sets without a lease: the whole frame goes the full path.
  assert.equal(readSetFrame(encode([[1, Op.SET, 'k', 1, true, 0]])), undefined, 'a set with a lease')
  assert.equal(
    readSetFrame(
      encode([
        [1, Op.SET, 'k', 1],
        [2, Op.DELETE, 'k'],
      ]),
    ),
    undefined,
    'another op beside',
  )
  assert.equal(readSetFrame(encode([[1, Op.SET, 5, 1]])), undefined, 'a key that is no string')
  assert.equal(readSetFrame(encode([[-1, Op.SET, 'k', 1]])), undefined, 'a negative request id')
  // 512 sets, the most a frame holds, each with its own id and key.
  const many = readSetFrame(
    encode(Array.from({ length: 512 }, (_, i) => [i + 70_000, Op.SET, `key-${i}`, i])),
  )
  assert.deepEqual(
    many?.map((request) => (request as unknown[]).slice(0, 3)),
    Array.from({ length: 512 }, (_, i) => [i + 70_000, Op.SET, `key-${i}`]),
  )
})

test('set frames: a Date is taken in the bytes msgpackr writes for it, as the full path stores it', () => {
  const dates = fc.oneof(
    fc.date({ noInvalidDate: true }),
    fc
      .constantFrom(0, 1000, 1500, -1, -1000, 2 ** 32 * 1000, 2 ** 34 * 1000, 8.64e15, -8.64e15)
      .map((ms) => new Date(ms)),
  )
  fc.assert(
    fc.property(dates, (date) => {
      const frame = encode([[1, Op.SET, 'k', { at: date }]])
      assert.ok(assertSameAsFullPath(frame), `taken: ${date.toISOString()}`)
      const [request] = readSetFrame(frame)!
      assert.deepEqual((request as [number, number, string, EncodedValue])[3].bytes, encode({ at: date }))
    }),
    { numRuns: 3_000 },
  )
})

test('set frames: float 32 and -0 are taken, written again exactly as the full path stores them', () => {
  const float32 = (x: number): string => {
    const bytes = Buffer.alloc(5, 0xca)
    bytes.writeFloatBE(x, 1)
    return bytes.toString('hex')
  }
  // Whole numbers of every int width msgpackr writes, fractions, and what is no finite number.
  const special = [
    0, -0, 1, -1, 31, -32, -33, 127, 128, 255, 256, -128, -129, 65_535, 65_536, -32_768, -32_769,
  ]
  const edges = [2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 31) - 256, 1.5, 1e-45, 3.4e38, NaN, Infinity, -Infinity]
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.float(), fc.constantFrom(...special, ...edges)), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      (numbers, withNegativeZero) => {
        const items = numbers.map(float32)
        if (withNegativeZero) items.push('cb 8000000000000000')
        // Each number as msgpackr writes what it reads from it; containers keep their headers.
        const stored = items.map((item) => encode(decode(hex(item))).toString('hex'))
        const array = (list: string[]): string =>
          `dc ${list.length.toString(16).padStart(4, '0')} ${list.join('')}`
        for (const [written, expected] of [
          [array(items), array(stored)],
          [`81 a1 61 ${items[0]!}`, `81 a1 61 ${stored[0]!}`],
          [items[0]!, stored[0]!],
        ]) {
          const frame = setFrame(hex(written!))
          assert.ok(assertSameAsFullPath(frame), `taken: ${written!}`)
          const [, , , taken] = readSetFrame(frame)![0] as [number, number, string, EncodedValue]
          assert.equal(Buffer.from(taken.bytes).toString('hex'), hex(expected!).toString('hex'))
        }
      },
    ),
    { numRuns: 2_000 },
  )
})

test('set frames: a map is taken exactly when no key comes twice, however many keys it has', () => {
  // Keys from a small alphabet, so that maps of every size hold repeats, near and far apart.
  const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 6 })
  fc.assert(
    fc.property(fc.array(key, { maxLength: 600 }), (keys) => {
      const map =
        'de' +
        keys.length.toString(16).padStart(4, '0') +
        keys.map((k) => encode(k).toString('hex') + 'c0').join('')
      const taken = readSetFrame(setFrame(hex(map))) !== undefined
      assert.equal(taken, new Set(keys).size === keys.length, JSON.stringify(keys))
    }),
    { numRuns: 3_000 },
  )
})

test('set frames: maps nested in one another, each saying it holds the rest of the frame, get no table of it each', () => {
  // 64 levels (the scan's depth) of maps of 2³² − 1 keys, each with 9 real ones (past the small-map
  // compare) and a 10th holding the next level; the innermost holds 15 MiB of bin.
  const level = (i: number): string =>
    'df ffffffff' +
    Array.from({ length: 9 }, (_, k) => encode(`k${k}`).toString('hex') + 'c0').join('') +
    encode(`n${i}`).toString('hex')
  const head = hex(Array.from({ length: 63 }, (_, i) => level(i)).join(''))
  const bin = Buffer.alloc(15 << 20)
  const frame = setFrame(Buffer.concat([head, hex('c6' + bin.length.toString(16).padStart(8, '0')), bin]))
  const before = process.memoryUsage().arrayBuffers
  assert.equal(readSetFrame(frame), undefined, 'no map holds the keys it says: left to the full path')
  const grown = process.memoryUsage().arrayBuffers - before
  assert.ok(grown < 2 * frame.length, `the scan's tables took ${grown} bytes for a frame of ${frame.length}`)
})

test('change encoding: values kept as bytes encode exactly as the values would, long ones as SET_ENCODED', () => {
  const lease = [true, 0]
  fc.assert(
    fc.property(
      fc
        .array(
          fc.tuple(
            fc.oneof(
              fc.string({ maxLength: 8 }),
              fc.string({ unit: 'grapheme', minLength: 10, maxLength: 300 }),
            ),
            fc.constantFrom('bytes', 'value', 'delete', 'lease'),
            storable,
          ),
          // One change as often as several: a single set of bytes is written by a path of its own.
          { minLength: 1, maxLength: 6, depthIdentifier: 'changes' },
        )
        .chain((specs) => fc.constantFrom(specs.slice(0, 1), specs)),
      // Numbers at every width msgpackr writes them in: uint 8 to 32, float 64 past 2^32 (as session
      // numbers are).
      fc.oneof(fc.nat(300), fc.nat(70_000), fc.nat(2 ** 33)),
      fc.oneof(
        fc.constant([]),
        fc.tuple(fc.oneof(fc.nat(70_000), fc.nat(Number.MAX_SAFE_INTEGER)), fc.nat(70_000)),
        fc.constant([3, 9, { result: 1 }]),
      ),
      (specs, revision, origin) => {
        const changes: WireChange[] = []
        const decoded: WireChange[] = []
        for (const [key, kind, raw] of specs) {
          let value: unknown
          try {
            value = adoptDecoded(decode(encode(raw)))
          } catch {
            return
          }
          if (kind === 'delete') {
            changes.push([key, ChangeKind.DELETE])
            decoded.push([key, ChangeKind.DELETE])
            continue
          }
          const held = kind === 'value' ? value : new EncodedValue(encode(value))
          changes.push(
            (kind === 'lease'
              ? [key, ChangeKind.SET, held, lease]
              : [key, ChangeKind.SET, held]) as WireChange,
          )
          // Bytes worth keeping travel as they are, in a bin; any other way, the value.
          const encoded = encode(value)
          decoded.push(
            (kind === 'lease'
              ? [key, ChangeKind.SET, value, lease]
              : kind === 'bytes' && keptEncoded(encoded)
                ? [key, ChangeKind.SET_ENCODED, encoded]
                : [key, ChangeKind.SET, value]) as WireChange,
          )
        }
        assert.deepEqual(
          encodeCommit(revision + 1, revision, changes, origin),
          encode([revision + 1, revision, decoded, ...origin]),
        )
        changes.forEach((change, i) => assert.deepEqual(encodeChange(change), encode(decoded[i])))
      },
    ),
    { numRuns: 2_000 },
  )
})

test('set frames: values a raw peer writes in MessagePack no client would write read the same in every replica', async (t) => {
  const server = await serverFor(t, 'ipc')
  const live = await clientFor(server)
  const peer = await rawPeer(t, server.address)
  // Taken as sent, and left to the full path, side by side.
  const written: [string, string, unknown][] = [
    ['bin 32 of two bytes', 'c6 00000002 0102', new Uint8Array([1, 2])],
    ['a small uint 64', 'cf 0000000000000005', 5n],
    ['1.0 as float 64', 'cb 3ff0000000000000', 1],
    ['a short str 32', 'db 00000002 6869', 'hi'],
    ['a map with a key twice (stored once, with its last value)', '82 a1 61 01 a1 61 02', { a: 2 }],
    ['float 32', 'ca 3fc00000', 1.5],
    ['-0', 'cb 8000000000000000', 0],
    ['a timestamp', 'd6 ff 00000001', new Date(1000)],
  ]
  const replies = await peer.send(
    Buffer.concat([
      hex('9' + written.length.toString(16)),
      ...written.map(([key, bytes], i) =>
        Buffer.concat([hex('94'), encode(i + 1), encode(Op.SET), encode(key), hex(bytes)]),
      ),
    ]),
  )
  assert.deepEqual(
    replies.map(([, status]) => status),
    written.map(() => Status.OK),
  )
  const revision = await live.state.sync()
  const fresh = await connect(server.address)
  t.after(() => fresh.close())
  assert.equal(fresh.state.revision, revision)
  for (const [key, , expected] of written) {
    assert.deepStrictEqual(live.state.get(key), expected, `${key}, from the change stream`)
    assert.deepStrictEqual(fresh.state.get(key), expected, `${key}, from a snapshot`)
  }
})
