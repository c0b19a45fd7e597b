// Decoding the frames clients send. msgpackr reads a string that is not UTF-8 as U+FFFD (a lone
// surrogate arrives that way), a map key "__proto__" as "__proto_", and its private extensions as
// reading MessagePack past their own bytes: each would be taken for something the sender never
// wrote. A scan of the raw bytes finds them first, so the decoded frame shows them to the checks
// that refuse them.
import { isUtf8 } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { ErrorCode, ZStateError } from '../errors.ts'
import { FIXED_BYTES, decode, decodeAsMaps, encode, uint as readUint } from './codec.ts'
import { MAX_DEPTH } from './values.ts'

// What a string that is not UTF-8 decodes to: a lone surrogate, so it is never well-formed.
const ILL_FORMED = '\uDC00'

// Stand-ins for what the scan found, secret to this process so no peer can send one.
const nonce = randomBytes(16).toString('base64')
const TEXT_MARK = `${nonce}:text`
const PROTO_MARK = `${nonce}:proto`
const EXTENSION_MARK = `${nonce}:extension`
const DEEP_MARK = `${nonce}:deep`
const TEXT_TOKEN = encode(TEXT_MARK)
const PROTO_TOKEN = encode(PROTO_MARK)
const EXTENSION_TOKEN = encode(EXTENSION_MARK)
const DEEP_TOKEN = encode(DEEP_MARK)

// A container this deep in a frame is deeper than any value may nest (values start within the first
// levels of a frame: a TXN's patch values at the sixth). msgpackr reads nesting by recursion, so a
// frame of thousands of levels would overflow its stack and be lost whole: such a container is read
// as undefined instead, and only the request that holds it is refused.
const DEEPEST = MAX_DEPTH + 8

const TIMESTAMP = 0xff
const PROTO_BYTES = Buffer.from('__proto__')

// Like decode(), but a string that is not UTF-8 comes back ill-formed, a map key "__proto__" as an
// own property "__proto__", and an extension other than the timestamp, or a container DEEPEST levels
// down, as undefined.
export function decodeStrict(frame: Uint8Array): unknown {
  const found = scan(frame)
  if (found === undefined) return decodeKeyed(frame)
  const parts: Uint8Array[] = []
  let at = 0
  for (let i = 0; i < found.length; i += 3) {
    parts.push(frame.subarray(at, found[i] as number), found[i + 2] as Buffer)
    at = found[i + 1] as number
  }
  parts.push(frame.subarray(at))
  return unmark(decodeKeyed(Buffer.concat(parts)))
}

// msgpackr reads a map key that is an array, a map or bin as no property name at all: it throws, and
// the whole frame would be lost. Such a frame is read again with its maps as Maps, which become
// objects where their keys allow (as decode() makes them: a number, boolean or nil key becomes its
// text); a Map left in a request is refused as any value of a type no client sends is (ERR_PROTOCOL),
// and the rest of the frame is served.
function decodeKeyed(frame: Uint8Array): unknown {
  try {
    return decode(frame)
  } catch (error) {
    if (!/Invalid property type/.test(((error as Error).cause as Error | undefined)?.message ?? ''))
      throw error
    return asObjects(decodeAsMaps(frame))
  }
}

function asObjects(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = asObjects(value[i])
    return value
  }
  if (!(value instanceof Map)) return value
  const entries = [...(value as Map<unknown, unknown>)]
  for (const entry of entries) entry[1] = asObjects(entry[1])
  if (
    !entries.every(([key]) => key === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof key))
  )
    return new Map(entries)
  const object: Record<string, unknown> = {}
  for (const [key, item] of entries)
    Object.defineProperty(object, String(key), {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  return object
}

function malformed(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `malformed message: ${what}`)
}

// Walks the tokens without building anything, counting the items still to read at each level.
// Returns the tokens to replace as a flat list of start, end, replacement; undefined when there are
// none, the common case. Throws ERR_PROTOCOL for truncated data and trailing bytes, as decode() does.
function scan(frame: Uint8Array): (number | Buffer)[] | undefined {
  const end = frame.length
  let found: (number | Buffer)[] | undefined
  let items = 1
  // Items still to read at each level outside this one.
  const outer: number[] = []
  // Where the container DEEPEST levels down starts, while the scan is inside it, and how many
  // replacements were found before it (those inside it go with it); -1 outside.
  let deepFrom = -1
  let foundBefore = 0
  let at = 0
  for (;;) {
    if (items === 0) {
      if (outer.length === 0) break
      if (deepFrom >= 0 && outer.length === DEEPEST + 1) {
        found!.length = foundBefore
        found!.push(deepFrom, at, DEEP_TOKEN)
        deepFrom = -1
      }
      items = outer.pop()!
      continue
    }
    items--
    if (at >= end) throw malformed('truncated')
    const begin = at
    const token = frame[at++]!
    let length = -1 // of a string
    let extension = -1 // type of an extension
    // Positive and negative fixint, nil, 0xC1 (msgpackr's C1 object, refused as a value), bool.
    if (token < 0x80 || token >= 0xe0 || (token >= 0xc0 && token <= 0xc3)) continue
    let contained = -1 // items of an array or map
    if (token >= 0xa0 && token < 0xc0) length = token - 0xa0
    else if (token < 0x90) contained = 2 * (token - 0x80)
    else if (token < 0xa0) contained = token - 0x90
    else if (token <= 0xc6) {
      const n = 1 << (token - 0xc4) // bin 8/16/32
      at += n + uint(frame, at, n)
    } else if (token <= 0xc9) {
      const n = 1 << (token - 0xc7) // ext 8/16/32
      const size = uint(frame, at, n)
      extension = frame[at + n] ?? -1
      at += n + 1 + size
    } else if (token <= 0xd3) {
      at += FIXED_BYTES[token - 0xca]! // float 32/64, uint and int 8…64
    } else if (token <= 0xd8) {
      extension = frame[at] ?? -1 // fixext 1…16
      at += 1 + (1 << (token - 0xd4))
    } else if (token <= 0xdb) {
      const n = 1 << (token - 0xd9) // str 8/16/32
      length = uint(frame, at, n)
      at += n
    } else {
      const n = token <= 0xdd ? 2 * (token - 0xdb) : 2 * (token - 0xdd) // array or map 16/32
      contained = uint(frame, at, n) * (token <= 0xdd ? 1 : 2)
      at += n
    }
    if (contained >= 0) {
      if (outer.length === DEEPEST) {
        deepFrom = begin
        foundBefore = (found ??= []).length
      }
      outer.push(items)
      items = contained
      continue
    }
    if (length > 0) at += length
    if (at > end) throw malformed('truncated')
    let replacement: Buffer | undefined
    if (length > 0) {
      if (!isUtf8Text(frame, at - length, at)) replacement = TEXT_TOKEN
      else if (length === 9 && isProto(frame, at - 9)) replacement = PROTO_TOKEN
    } else if (extension >= 0 && extension !== TIMESTAMP) replacement = EXTENSION_TOKEN
    if (replacement !== undefined) (found ??= []).push(begin, at, replacement)
  }
  if (at !== end) throw malformed('trailing bytes')
  return found
}

// The unsigned big-endian integer of n bytes at `at`, or ERR_PROTOCOL when the frame ends first.
function uint(frame: Uint8Array, at: number, n: number): number {
  if (at + n > frame.length) throw malformed('truncated')
  return readUint(frame, at, n)
}

// Short ASCII strings, the common case, are checked here; anything else natively.
export function isUtf8Text(frame: Uint8Array, start: number, end: number): boolean {
  if (end - start <= 32) {
    let i = start
    while (i < end && frame[i]! < 0x80) i++
    if (i === end) return true
  }
  return isUtf8(frame.subarray(start, end))
}

// Whether the 9 bytes at `start` are "__proto__".
export function isProto(frame: Uint8Array, start: number): boolean {
  for (let i = 0; i < 9; i++) if (frame[start + i] !== PROTO_BYTES[i]) return false
  return true
}

// Puts back what the marks stand for. "__proto__" is marked wherever it is, so that a map key can
// become an own property; as a string it is a string.
function unmark(value: unknown): unknown {
  if (value === TEXT_MARK) return ILL_FORMED
  if (value === PROTO_MARK) return '__proto__'
  if (value === EXTENSION_MARK || value === DEEP_MARK) return undefined
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = unmark(value[i])
    return value
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value
  // Values in place; the object is rebuilt only when one of its keys is marked (rebuilding every
  // object cost a million-key map seconds).
  const object = value as Record<string, unknown>
  let markedKey = false
  for (const key in object) {
    // msgpackr fails on a map key of any other extension (the timestamp's Date) too.
    if (key === EXTENSION_MARK) throw malformed('a map key of an extension type')
    // A map whose key is too deep is as deep itself: it goes with its key.
    if (key === DEEP_MARK) return undefined
    if (key === TEXT_MARK || key === PROTO_MARK) markedKey = true
    const item = object[key]
    const unmarked = unmark(item)
    if (unmarked !== item) object[key] = unmarked
  }
  if (!markedKey) return object
  const result: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(object))
    Object.defineProperty(result, unmark(key) as string, {
      value: item,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  return result
}
