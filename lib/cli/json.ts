// The command line's JSON: one-key objects stand for the values JSON cannot hold, both ways.
//   bigint ↔ {"$bigint":"123"}   Date ↔ {"$date":"ISO"}   Uint8Array ↔ {"$base64":"…"}
//   NaN / ±Infinity ↔ {"$number":"NaN"}
import { MAX_DEPTH, tooDeep } from '../protocol/values.ts'
import { UsageError } from './args.ts'
import { printable } from './printable.ts'

const BIGINT = /^-?\d+$/
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
// A bare word longer than this is shown by its length only, as is any with a control character.
const MAX_WORD = 200
// JSON.parse's message quotes the text: as much of it as one line of an error holds.
const MAX_REASON = 300
const SPECIAL_NUMBERS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity }

// Formats a stored value as one line of JSON.
export function stringify(value: unknown): string {
  return JSON.stringify(toJson(value))
}

// Parses a command line argument into a value to store; malformed input is a UsageError, nesting
// deeper than the store allows ERR_UNENCODABLE. `quoted(json)` is the command line that would store
// the argument as a string: the hint for a bare word (`zstate set k hello`), the likeliest mistake.
export function parse(text: string, quoted = (json: string): string => json): unknown {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    // Objects, arrays and strings start so; anything else (hello, 01, True) reads as a word.
    if (!/^\s*[[{"]/.test(text)) {
      // Text that is no word (a file piped by mistake) is not echoed back, twice, to the terminal.
      if (text.length > MAX_WORD || printable(text) !== text)
        throw new UsageError(
          `the value must be JSON: got ${text.length} characters that are not JSON (not echoed here)`,
        )
      const what = text === '' ? 'the empty string' : `the string ${text}`
      throw new UsageError(
        `the value must be JSON: to store ${what}, quote it: ${quoted(JSON.stringify(text))}`,
      )
    }
    const reason = error instanceof Error ? error.message : String(error)
    throw new UsageError(`the value is not valid JSON: ${printable(reason, MAX_REASON)}`)
  }
  checkIntegers(text)
  return fromJson(json, '')
}

// JSON.parse rounds an integer beyond 2^53 to the nearest number it holds, silently: one given so is
// refused, with the form that keeps it. (Strings are matched whole, so digits in them are skipped.)
const STRING_OR_NUMBER = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g
function checkIntegers(text: string): void {
  for (const [literal] of text.matchAll(STRING_OR_NUMBER)) {
    if (literal.startsWith('"')) continue
    const integer = /[.eE]/.test(literal) ? roundedExponentInteger(literal) : literal
    if (integer === undefined || Number.isSafeInteger(Number(integer))) continue
    throw new UsageError(
      `the integer ${literal} is beyond what a number holds exactly (2^53): write {"$bigint":"${integer}"}`,
    )
  }
}

// An integer written with an exponent (12345678901234567891e0) whose digits the number does not keep
// (it reads back as 12345678901234567000), in plain digits; undefined for any other literal, such as
// 1e23, which reads back as written, or a decimal (12345678901234567891.5e0), which rounds.
function roundedExponentInteger(literal: string): string | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(literal)
  const n = Number(literal)
  if (match === null || !Number.isFinite(n) || Math.abs(n) < 2 ** 53) return undefined
  const [, sign, whole, fraction = '', exponent] = match
  const shift = Number(exponent) - fraction.length
  const digits = `${whole}${fraction}`
  if (significant(digits) === significant(String(n).split('e')[0]!)) return undefined
  if (shift >= 0) return `${sign}${BigInt(digits + '0'.repeat(shift))}`
  return /^0+$/.test(digits.slice(shift)) ? `${sign}${BigInt(digits.slice(0, shift))}` : undefined
}

// A literal's significant digits: no sign, point, or leading and trailing zeros.
function significant(digits: string): string {
  return digits.replace(/[-.]/g, '').replace(/^0+|0+$/g, '')
}

export function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() }
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $number: String(value) }
  if (typeof value !== 'object' || value === null) return value
  if (value instanceof Date) return { $date: value.toISOString() }
  if (value instanceof Uint8Array) {
    return { $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  }
  if (Array.isArray(value)) return value.map(toJson)
  const result: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) define(result, key, toJson(item))
  return result
}

// `depth`: the containers around `json`. Past the store's limit the value is refused here, as the
// store would refuse it, before this recursion can exhaust the stack (JSON.parse itself does not).
export function fromJson(json: unknown, path: string, depth = 0): unknown {
  // A literal beyond a number's range (1e400) parses as ±Infinity.
  if (typeof json === 'number' && !Number.isFinite(json)) {
    const where = path === '' ? '' : ` at ${path.replace(/^\./, '')}`
    throw new UsageError(
      `the number${where} is beyond a number's range: to store ${json}, write {"$number":"${json}"}`,
    )
  }
  if (typeof json !== 'object' || json === null) return json
  if (Array.isArray(json)) {
    if (depth >= MAX_DEPTH) throw tooDeep(path)
    return json.map((item, i) => fromJson(item, `${path}[${i}]`, depth + 1))
  }
  const entries = Object.entries(json)
  const [only] = entries
  if (entries.length === 1 && only !== undefined && only[0].startsWith('$')) {
    const special = fromSpecial(only[0], only[1], path)
    if (special !== NOT_SPECIAL) return special
  }
  if (depth >= MAX_DEPTH) throw tooDeep(path)
  const result: Record<string, unknown> = {}
  for (const [key, item] of entries) define(result, key, fromJson(item, `${path}.${key}`, depth + 1))
  return result
}

const NOT_SPECIAL = Symbol('not special')

function fromSpecial(form: string, text: unknown, path: string): unknown {
  if (form !== '$bigint' && form !== '$date' && form !== '$base64' && form !== '$number') return NOT_SPECIAL
  const where = path === '' ? '' : ` at ${path.replace(/^\./, '')}`
  const bad = (expected: string): UsageError =>
    new UsageError(`{"${form}": …}${where} expects ${expected}, got ${JSON.stringify(text)}`)
  if (typeof text !== 'string') throw bad('a string')
  switch (form) {
    case '$bigint':
      if (!BIGINT.test(text)) throw bad('a decimal integer string')
      return BigInt(text)
    case '$date': {
      const time = ISO_DATE.test(text) ? Date.parse(text) : NaN
      if (Number.isNaN(time)) throw bad('an ISO 8601 date string')
      return new Date(time)
    }
    case '$base64': {
      const padded = text.length % 4 === 0 ? text : text + '='.repeat(4 - (text.length % 4))
      if (!BASE64.test(padded)) throw bad('a base64 string')
      return new Uint8Array(Buffer.from(padded, 'base64'))
    }
    case '$number': {
      const n = SPECIAL_NUMBERS[text]
      if (n === undefined) throw bad('"NaN", "Infinity" or "-Infinity"')
      return n
    }
  }
}

// An own data property even for "__proto__", so the store (not this parser) decides about it.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}
