// Readers that take one MessagePack item where it lies (snapshot restore): they must agree with
// decode() on every item they accept and refuse every other item or truncated bytes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decode, encode, readStringAt } from '../lib/protocol/codec.ts'
import { readRevision } from '../lib/storage/layout.ts'

const lengths = fc.oneof(
  fc.constant(0),
  fc.constant(31),
  fc.constant(32),
  fc.constant(255),
  fc.constant(256),
  fc.nat(70_000),
)

test('codec: readStringAt reads every string as decode() does, after a prefix, and refuses truncated ones', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        lengths.map((n) => 'é'.repeat(n)),
      ),
      fc.nat(3),
      (value, pad) => {
        const bytes = Buffer.concat([Buffer.alloc(pad, 0xc0), encode(value)])
        assert.deepEqual(readStringAt(bytes, pad), { value: decode(bytes.subarray(pad)), next: bytes.length })
        assert.equal(readStringAt(bytes.subarray(0, bytes.length - 1), pad), undefined)
      },
    ),
    { numRuns: 300 },
  )
})

test('codec: readStringAt refuses every item that is not a string', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string()),
        fc.uint8Array(),
      ),
      (value) => {
        assert.equal(readStringAt(encode(value), 0), undefined)
      },
    ),
    { numRuns: 300 },
  )
})

test('codec: readRevision reads every revision as decode() does and refuses other numbers and items', () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat()), (revision) => {
      const bytes = encode(revision)
      assert.deepEqual(readRevision(bytes, 0), { value: decode(bytes), next: bytes.length })
      if (bytes.length > 1) assert.equal(readRevision(bytes.subarray(0, bytes.length - 1), 0), undefined)
    }),
    { numRuns: 300 },
  )
  for (const other of [-1, 1.5, 'x', null, [1]])
    assert.equal(readRevision(encode(other), 0), undefined, String(other))
})
