// msgpackr's native string extractor is loaded only once a process has decoded a megabyte
// (lib/protocol/codec.ts), so a short-lived child never pays for it: every value must decode the same
// before and after it takes over.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'
import fc from 'fast-check'
import * as msgpackr from 'msgpackr/pack'
import { decode, encode } from '../lib/protocol/codec.ts'
import { until } from './process-support.ts'

// Values whose strings take every path of the decoder: short and long, ASCII and not, map keys.
const values = fc.array(
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 2_000 }),
    fc.dictionary(
      fc.string({ maxLength: 20 }).filter((key) => key !== '__proto__'),
      fc.string({ unit: 'binary', maxLength: 80 }),
      { noNullPrototype: true },
    ),
    fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.integer(), fc.string({ maxLength: 120 }))),
  ),
  { maxLength: 40 },
)

// The module codec.ts decodes with (its types leave the flag out, its live binding has it).
const accelerated = (): boolean =>
  (msgpackr as { isNativeAccelerationEnabled?: boolean }).isNativeAccelerationEnabled === true

function extractorInstalled(): boolean {
  try {
    createRequire(import.meta.resolve('msgpackr'))('msgpackr-extract')
    return true
  } catch {
    return false
  }
}

test('codec: the native string extractor loads after a megabyte decoded, and decodes every value the same', async (t) => {
  if (!extractorInstalled()) {
    t.skip('SKIPPED: msgpackr-extract (an optional dependency of msgpackr) has no build for this platform')
    return
  }
  assert.equal(accelerated(), false, 'nothing has loaded the extractor yet')
  const samples = fc.sample(values, { numRuns: 300, seed: 42 }).map((value) => encode(value))
  const inJavaScript = samples.map((frame) => decode(frame))
  assert.equal(accelerated(), false, 'a few kilobytes decoded do not load it')

  const batch = encode(Array.from({ length: 2_000 }, (_, i) => [`item:${i}`, { note: 'x'.repeat(500), i }]))
  assert.ok(batch.length > 1 << 20)
  decode(batch)
  await until(accelerated, 'the extractor is loaded')

  assert.deepEqual(
    samples.map((frame) => decode(frame)),
    inJavaScript,
  )
  fc.assert(
    fc.property(values, (value) => {
      assert.deepEqual(decode(encode(value)), value)
    }),
    { numRuns: 300 },
  )
})
