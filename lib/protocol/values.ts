// The value model: what may be stored, how it is copied, frozen and compared.
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { thrownText } from '../guarded.ts'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

// Whether a bigint fits the value model (MessagePack's int64).
export function isInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX
}
export const MAX_KEY_BYTES = 1024
// Deeper values are refused: decoding them would risk the stack of every process that reads them.
export const MAX_DEPTH = 512
// A lone surrogate has no UTF-8 form: it would travel as U+FFFD, another string than the one written.
export const LONE_SURROGATE = 'a lone surrogate (not well-formed UTF-16)'

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidArgument(`key must be a string, got ${describe(key)}`)
  if (key === '') throw invalidArgument('key must not be empty')
  if (key === '__proto__') throw invalidArgument('key must not be "__proto__"')
  if (!key.isWellFormed()) throw invalidArgument(`key must not hold ${LONE_SURROGATE}`)
  // Up to 341 UTF-16 units cannot exceed 1,023 UTF-8 bytes, so only long keys are measured.
  if (key.length > 341 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw invalidArgument(`key is longer than ${MAX_KEY_BYTES} UTF-8 bytes`)
  }
}

// The whole key of `key` in the scope of `prefix` ('' outside any), checked. In a scope, the key that
// equals its prefix is '' (a scope lists it so): the whole key is what must not be empty.
export function scopedKey(prefix: string, key: unknown): string {
  if (key === '' && prefix !== '') {
    checkKey(prefix)
    return prefix
  }
  checkKey(key)
  const whole = prefix + key
  if (prefix !== '') checkKey(whole)
  return whole
}

export function unencodable(path: string, what: string): ZStateError {
  return new ZStateError(ErrorCode.UNENCODABLE, `value${path} cannot be stored: ${what}`)
}

const TOO_DEEP = `nested deeper than ${MAX_DEPTH} levels`

export function tooDeep(path: string): ZStateError {
  return unencodable(path, TOO_DEEP)
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object')
    return `an instance of ${value.constructor?.name ?? 'Object (null prototype)'}`
  return typeof value
}

// A wrong argument as an error message shows it: a number as it is, a string quoted (so that '2' is
// not taken for 2), anything else by its type.
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value)
  return describe(value)
}

export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

// Validates a caller's value and returns a deeply frozen copy: what the store will hold.
export function toStoredValue(value: unknown): unknown {
  return stored(value, 0, true)
}

// The same for a value that will sit at `path` inside a stored value (a patch's value): a refusal
// names the place from the top of the stored value (`value.tags[1] cannot be stored: …`).
export function toStoredValueAt(value: unknown, path: readonly (string | number)[]): unknown {
  return stored(value, path.length, true, path)
}

// Validates a caller's value as toStoredValue() does, without copying it: for a value that is encoded
// at once and then no longer needed.
export function checkStorable(value: unknown): unknown {
  return stored(value, 0, false)
}

// What copy() refuses, and where: the path is put together on the way out, only for a refusal,
// rather than as a string for every property and element of every value written.
class Refusal {
  readonly what: string
  path: string
  constructor(what: string, path = '') {
    this.what = what
    this.path = path
  }
}

// Values nested deeper than this are walked again from the top with their ancestors kept, to tell a
// cycle from deep nesting: a first walk that keeps none allocates nothing for most values.
const UNTRACKED_LEVELS = 32
const DEEPER = Symbol('deeper than UNTRACKED_LEVELS')

// The place of a value at the top of a stored value: one shared empty path, as every set() checks its
// value here and a default `[]` would allocate one per call.
const TOP: readonly (string | number)[] = []

function stored(value: unknown, depth: number, copying: boolean, at = TOP): unknown {
  try {
    try {
      return copy(value, undefined, depth, copying)
    } catch (error) {
      if (error !== DEEPER) throw error
      return copy(value, [], depth, copying)
    }
  } catch (error) {
    const refusal = asRefusal(error)
    throw unencodable(place(at) + refusal.path, refusal.what)
  }
}

// Anything else thrown while walking a value came from reading it: a getter, or a Proxy's trap.
function asRefusal(error: unknown): Refusal {
  return error instanceof Refusal ? error : new Refusal(`reading it threw: ${thrownText(error)}`)
}

// A path into a value as a refusal names a place: `.tags[1]`.
function place(path: readonly (string | number)[]): string {
  return path.map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`)).join('')
}

// A refusal from inside the element or property `step` gets its place in the path.
function within(error: unknown, step: string): unknown {
  if (error === DEEPER) return error
  const refusal = asRefusal(error)
  refusal.path = step + refusal.path
  return refusal
}

// `value` validated, and copied (frozen) when `copying`, else returned as it is. `level`: how deep it
// sits; `ancestors`: the containers it sits in, when kept (see stored()).
function copy(value: unknown, ancestors: object[] | undefined, level: number, copying: boolean): unknown {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new Refusal(`string with ${LONE_SURROGATE}`)
      return value
    case 'boolean':
      return value
    case 'number':
      return value === 0 ? 0 : value
    case 'bigint':
      if (!isInt64(value)) throw new Refusal('bigint outside int64')
      return value
    case 'object':
      break
    default:
      throw new Refusal(typeof value)
  }
  if (value === null) return null
  if (value instanceof Uint8Array) return copying ? new Uint8Array(value) : value
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Refusal('invalid Date')
    return copying ? new Date(value.getTime()) : value
  }
  if (ancestors === undefined) {
    if (level >= UNTRACKED_LEVELS) throw DEEPER
  } else {
    if (ancestors.includes(value)) throw new Refusal('cyclic reference')
    if (level >= MAX_DEPTH) throw new Refusal(TOO_DEEP)
    ancestors.push(value)
  }
  let result: unknown[] | Record<string, unknown> | undefined
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw new Refusal('array subclass')
    if (copying) result = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new Refusal('sparse array (hole)', `[${i}]`)
      try {
        const item = copy(value[i], ancestors, level + 1, copying)
        if (result !== undefined) (result as unknown[])[i] = item
      } catch (error) {
        throw within(error, `[${i}]`)
      }
    }
  } else {
    if (!isPlainObject(value)) throw new Refusal(describe(value))
    for (const symbol of Object.getOwnPropertySymbols(value))
      if (Object.prototype.propertyIsEnumerable.call(value, symbol)) throw new Refusal('symbol key')
    if (copying) result = {}
    // for…in, not Object.keys: it allocates no array for an object of a known shape.
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      if (key === '__proto__') throw new Refusal('key "__proto__"')
      if (!key.isWellFormed()) throw new Refusal(`key with ${LONE_SURROGATE}`)
      try {
        const item = copy((value as Record<string, unknown>)[key], ancestors, level + 1, copying)
        if (result !== undefined) (result as Record<string, unknown>)[key] = item
      } catch (error) {
        throw within(error, `.${key}`)
      }
    }
  }
  ancestors?.pop()
  return result === undefined ? value : Object.freeze(result)
}

// Checks a value decoded from the wire, in place: binary becomes Uint8Array, containers are frozen.
// Returns the adopted value or throws ERR_PROTOCOL for anything outside the value model; strings and
// keys that only a strict decoding shows (decodeStrict: not UTF-8, "__proto__") are ERR_UNENCODABLE.
export function adoptDecoded(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw unencodable('', 'string that is not UTF-8')
    return value
  }
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol') {
      throw new ZStateError(ErrorCode.PROTOCOL, `decoded value has type ${typeof value}`)
    }
    if (typeof value === 'bigint' && !isInt64(value)) {
      throw new ZStateError(ErrorCode.PROTOCOL, 'decoded bigint outside int64')
    }
    return value
  }
  // A container at level MAX_DEPTH would be the 513th, as copy() counts them.
  if (depth >= MAX_DEPTH) throw new ZStateError(ErrorCode.PROTOCOL, 'value nested too deeply')
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value) ? new Uint8Array(value) : value
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ZStateError(ErrorCode.PROTOCOL, 'decoded an invalid Date')
    return value
  }
  // Assigned only where it changes, so that a value adopted once (and frozen) can be adopted again:
  // an etcd gateway reads a request again when it works a batch out anew.
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = adoptDecoded(value[i], depth + 1)
      if (item !== value[i]) value[i] = item
    }
    return Object.freeze(value)
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    throw new ZStateError(ErrorCode.PROTOCOL, `decoded value is ${describe(value)}`)
  }
  const record = value as Record<string, unknown>
  for (const key in record) {
    if (key === '__proto__') throw unencodable('', 'key "__proto__"')
    if (!key.isWellFormed()) throw unencodable('', 'key that is not UTF-8')
    const item = adoptDecoded(record[key], depth + 1)
    if (item !== record[key]) record[key] = item
  }
  return Object.freeze(value)
}

// adoptDecoded() for a list of values (a call's arguments), each nesting as deep as one value may.
export function adoptDecodedList(list: unknown): unknown {
  return adoptDecoded(list, -1)
}

// Deep equality as docs/state.md defines it (compareAndSet, whenEqual).
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b) return false
  if (typeof a === 'number') return Number.isNaN(a) && Number.isNaN(b)
  if (typeof a !== 'object' || a === null || b === null) return false
  const y = b as object
  if (a instanceof Date) return y instanceof Date && a.getTime() === y.getTime()
  if (a instanceof Uint8Array) {
    return y instanceof Uint8Array && a.length === y.length && Buffer.compare(a, y) === 0
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(y) || a.length !== y.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], y[i])) return false
    return true
  }
  if (Array.isArray(y) || y instanceof Date || y instanceof Uint8Array) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(y).length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(y, k)) return false
    if (!deepEqual((a as Record<string, unknown>)[k], (y as Record<string, unknown>)[k])) return false
  }
  return true
}
