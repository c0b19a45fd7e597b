import assert from 'node:assert/strict'
import { test } from 'node:test'
import { UsageError } from '../lib/cli/args.ts'
import { parse, stringify } from '../lib/cli/json.ts'
import { isZStateError } from '../lib/index.ts'

void test('cli: JSON forms stand for bigint, Date, Uint8Array and special numbers, nested anywhere', () => {
  const value = {
    big: 123456789012345678901234567890n,
    neg: -5n,
    when: new Date('2024-01-31T12:34:56.789Z'),
    bytes: new Uint8Array([0, 1, 254, 255]),
    list: [1n, { deep: [new Date(0)] }, new Uint8Array()],
    odd: [NaN, Infinity, -Infinity],
    plain: { $bigint: '1', other: true },
    text: 'ünïcode',
  }
  const text = stringify(value)
  assert.equal(text.includes('\n'), false)
  assert.deepEqual(JSON.parse(text), {
    big: { $bigint: '123456789012345678901234567890' },
    neg: { $bigint: '-5' },
    when: { $date: '2024-01-31T12:34:56.789Z' },
    bytes: { $base64: 'AAH+/w==' },
    list: [{ $bigint: '1' }, { deep: [{ $date: '1970-01-01T00:00:00.000Z' }] }, { $base64: '' }],
    odd: [{ $number: 'NaN' }, { $number: 'Infinity' }, { $number: '-Infinity' }],
    plain: { $bigint: '1', other: true },
    text: 'ünïcode',
  })
  assert.deepEqual(parse(text), value)
})

void test('cli: numbers JSON holds exactly pass, digits inside strings included', () => {
  assert.deepEqual(parse('[9007199254740991, 1e20, 1.5e300, -0.1, "12345678901234567890"]'), [
    9007199254740991,
    1e20,
    1.5e300,
    -0.1,
    '12345678901234567890',
  ])
  assert.deepEqual(parse('{"k\\"1":"a\\"12345678901234567890"}'), { 'k"1': 'a"12345678901234567890' })
})

void test('cli: JSON forms accept unpadded base64 and ISO dates with offsets', () => {
  assert.deepEqual(parse('{"$base64":"aGk"}'), new Uint8Array([104, 105]))
  assert.deepEqual(parse('{"$date":"2024-01-31T12:00:00+01:00"}'), new Date('2024-01-31T11:00:00.000Z'))
  assert.deepEqual(parse('{"$date":"2024-01-31"}'), new Date('2024-01-31T00:00:00.000Z'))
  assert.deepEqual(parse('{"$other":"x"}'), { $other: 'x' })
  assert.equal(parse('null'), null)
  assert.equal(parse('-1'), -1)
})

void test('cli: a "__proto__" key stays an own property for the store to judge', () => {
  const value = parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(value), Object.prototype)
  assert.deepEqual(Object.keys(value), ['__proto__'])
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
})

void test('cli: JSON nested deeper than the store allows is ERR_UNENCODABLE, not a stack overflow', () => {
  for (const text of [
    '['.repeat(5_000) + ']'.repeat(5_000),
    '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
  ]) {
    assert.throws(
      () => parse(text),
      (error: unknown) =>
        isZStateError(error) &&
        error.code === 'ERR_UNENCODABLE' &&
        /nested deeper than 512 levels$/.test(error.message),
    )
  }
  assert.doesNotThrow(
    () => parse('['.repeat(512) + '{"$bigint":"1"}' + ']'.repeat(512)),
    'as deep as the store allows',
  )
})

void test('cli: malformed JSON and malformed forms are usage errors', () => {
  for (const [text, pattern] of [
    ['{nope', /not valid JSON/],
    ['[1,', /not valid JSON/],
    ['', /must be JSON: to store the empty string, quote it: ""$/],
    ['hello', /must be JSON: to store the string hello, quote it: "hello"$/],
    ['{"$bigint":"1.5"}', /\$bigint.*decimal integer/],
    ['{"$bigint":12}', /\$bigint.*a string/],
    ['{"a":[{"$date":"yesterday"}]}', /\$date.* at a\[0\].*ISO 8601/],
    ['{"$date":"2024-02-31T99:00:00Z"}', /\$date/],
    ['{"$base64":"not base64!"}', /\$base64/],
    ['{"$base64":"a"}', /\$base64/],
    ['{"$number":"1"}', /\$number/],
    // Numbers JSON.parse would change silently: out of range, or integers beyond 2^53.
    ['1e400', /^the number is beyond a number's range: to store Infinity, write \{"\$number":"Infinity"\}$/],
    ['{"a":[-1e999]}', /the number at a\[0\] is beyond/],
    [
      '12345678901234567890',
      /^the integer 12345678901234567890 is beyond .*\{"\$bigint":"12345678901234567890"\}$/,
    ],
    ['[1,-9007199254740993]', /the integer -9007199254740993/],
  ] as const) {
    assert.throws(
      () => parse(text),
      (error: unknown) => error instanceof UsageError && pattern.test(error.message),
      text,
    )
  }
})

void test('cli: an integer written with an exponent whose digits a number does not keep is refused, naming its bigint', () => {
  for (const [literal, digits] of [
    ['12345678901234567891e0', '12345678901234567891'],
    ['-12345678901234567891E+0', '-12345678901234567891'],
    ['123456789012345678910e-1', '12345678901234567891'],
    ['9007199254740993e0', '9007199254740993'],
  ] as const) {
    assert.throws(
      () => parse(`{"n": ${literal}}`),
      (error: unknown) =>
        error instanceof UsageError && error.message.includes(`write {"$bigint":"${digits}"}`),
      literal,
    )
  }
  // Read back as written, or a decimal: these round as in any JSON parser.
  assert.deepEqual(parse('[1e23, 9007199254740992e0, 12345678901234567891.5e0, 2.5e300]'), [
    1e23,
    9007199254740992,
    Number('12345678901234567891.5'),
    2.5e300,
  ])
})

void test('cli: text that is no word is not echoed back: too long, or holding control characters', () => {
  for (const text of ['1 '.repeat(500), 'a\u001b[2Jb', 'line\nbreak']) {
    assert.throws(
      () => parse(text),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message ===
          `the value must be JSON: got ${text.length} characters that are not JSON (not echoed here)`,
    )
  }
  assert.throws(
    () => parse('{"a":"\u001b[2J'),
    (error: unknown) => {
      assert.ok(error instanceof UsageError)
      assert.equal(error.message.includes('\u001b'), false)
      return true
    },
  )
})
