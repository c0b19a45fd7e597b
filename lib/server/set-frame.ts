// A frame of plain sets, read without decoding the values it sets. A set's value is stored, logged
// and published as MessagePack: decoding it from the frame only to encode it again into the commit
// cost about a sixth of the server's CPU per set. Here a scan checks the value's bytes in place and
// they go into the commit as they came. The scan takes only what needs no decision: values whose
// bytes every replica decodes as the full path would store them, and numbers it would store otherwise
// (float 32, -0), written again as it writes them; a timestamp only in the bytes msgpackr writes
// for a valid Date (what every client sends). Anything else (another extension, a timestamp written
// otherwise, a map key that is not a string, is "__proto__" or comes twice, text that is not UTF-8,
// deep nesting, a uint 64 past int64, an op other than a set without a lease) sends the whole frame
// through decodeStrict instead, where it is stored, normalised, or refused with its error, as before.
import { strHeaderBytes, strLength, uint, writeNumber } from '../protocol/codec.ts'
import { Op } from '../protocol/ops.ts'
import { isProto, isUtf8Text } from '../protocol/strict-decode.ts'

// A value's MessagePack bytes, checked by the scan: what a SET change holds instead of the value.
export class EncodedValue {
  readonly bytes: Uint8Array
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
}

// Nesting the scan follows; deeper values take the full path, which enforces MAX_DEPTH.
const SCAN_DEPTH = 64

// The requests of a frame that holds only [id, SET, key, value] requests, each value an EncodedValue;
// undefined for any other frame (decodeStrict reads it). Bounds were checked before: the frame's size
// and its number of requests.
export function readSetFrame(frame: Buffer): unknown[] | undefined {
  const end = frame.length
  presizeSlots = end / 2
  const token = frame[0]
  let count: number
  let at: number
  if (token === undefined) return undefined
  if (token >= 0x90 && token <= 0x9f) {
    count = token - 0x90
    at = 1
  } else if (token === 0xdc && end >= 3) {
    count = uint(frame, 1, 2)
    at = 3
  } else return undefined
  // Made once the first request is a set: any other frame costs no array here.
  let requests: unknown[] | undefined
  for (let i = 0; i < count; i++) {
    if (frame[at++] !== 0x94) return undefined
    // The request id: a positive fixint or a uint 8, 16 or 32.
    const idToken = frame[at++]
    let id: number
    if (idToken === undefined) return undefined
    if (idToken < 0x80) id = idToken
    else if (idToken >= 0xcc && idToken <= 0xce) {
      const n = 1 << (idToken - 0xcc)
      if (at + n > end) return undefined
      id = uint(frame, at, n)
      at += n
    } else return undefined
    if (frame[at++] !== Op.SET) return undefined
    const keyEnd = stringEnd(frame, at, end)
    if (keyEnd < 0) return undefined
    const key = frame.toString('utf8', at + strHeaderBytes(frame[at]), keyEnd)
    renumbered.length = 0
    const valueEnd = plainValueEnd(frame, keyEnd, end, 0)
    if (valueEnd < 0) return undefined
    requests ??= new Array<unknown>(count)
    const bytes =
      renumbered.length === 0 ? frame.subarray(keyEnd, valueEnd) : renumber(frame, keyEnd, valueEnd)
    requests[i] = [id, Op.SET, key, new EncodedValue(bytes)]
    at = valueEnd
  }
  return at === end && requests !== undefined ? requests : undefined
}

// Where the str at `at` ends, if it is UTF-8; else -1 (for anything else too).
function stringEnd(bytes: Buffer, at: number, end: number): number {
  const token = bytes[at]
  const header = strHeaderBytes(token)
  if (header === 0 || at + header > end) return -1
  const start = at + header
  const stop = start + strLength(bytes, at, token!, header)
  return stop <= end && isUtf8Text(bytes, start, stop) ? stop : -1
}

// Where the value at `at` ends if the scan takes it (see above); else -1.
function plainValueEnd(bytes: Buffer, at: number, end: number, depth: number): number {
  const token = bytes[at++]
  if (token === undefined) return -1
  // Positive and negative fixint, nil, false, true.
  if (token < 0x80 || token >= 0xe0 || token === 0xc0 || token === 0xc2 || token === 0xc3) return at
  if (strHeaderBytes(token) !== 0) return stringEnd(bytes, at - 1, end)
  let stop = -1
  if (token >= 0xc4 && token <= 0xc6) {
    const n = 1 << (token - 0xc4) // bin 8/16/32
    if (at + n <= end) stop = at + n + uint(bytes, at, n)
  } else if (token === 0xca || token === 0xcb) {
    // float 32, and float 64 -0: written again as the number the full path stores.
    if (token === 0xca || isNegativeZero(bytes, at)) renumbered.push(at - 1)
    stop = at + (token === 0xca ? 4 : 8)
  } else if (token >= 0xcc && token <= 0xcf) {
    // uint 8…64; a uint 64 only within int64 (one past it is refused by the full path)
    if (token !== 0xcf || (bytes[at] ?? 0x80) < 0x80) stop = at + (1 << (token - 0xcc))
  } else if (token >= 0xd0 && token <= 0xd3)
    stop = at + (1 << (token - 0xd0)) // int 8…64
  else if (token === 0xd6 || token === 0xd7 || token === 0xc7) return timestampEnd(bytes, token, at, end)
  else return containerEnd(bytes, token, at, end, depth)
  return stop <= end ? stop : -1
}

// The end of the timestamp whose header token is `token` (fixext 4, fixext 8 or ext 8), its type byte
// at `at`, if its bytes are those msgpackr writes for a valid Date: whole seconds from 1970 within 32
// bits as fixext 4; within them, with milliseconds, as fixext 8 (nanoseconds and 32 bits of seconds);
// any other time as ext 8 of 12 bytes (nanoseconds and 64 bits of seconds); nanoseconds of whole
// milliseconds, the time within a Date's range. Else -1: such a timestamp decodes to a Date that the
// full path stores written otherwise, or refuses.
function timestampEnd(bytes: Buffer, token: number, at: number, end: number): number {
  if (token === 0xd6) return bytes[at] === TIMESTAMP && at + 5 <= end ? at + 5 : -1
  let nanoseconds: number
  if (token === 0xd7) {
    if (bytes[at] !== TIMESTAMP || at + 9 > end) return -1
    const high = bytes.readUInt32BE(at + 1)
    // No seconds past 32 bits, and not whole seconds (fixext 4).
    if ((high & 3) !== 0) return -1
    nanoseconds = high >>> 2
    if (nanoseconds === 0) return -1
  } else {
    if (bytes[at] !== 12 || bytes[at + 1] !== TIMESTAMP || at + 14 > end) return -1
    nanoseconds = bytes.readUInt32BE(at + 2)
    const ms = Number(bytes.readBigInt64BE(at + 6)) * 1000 + nanoseconds / 1e6
    // Not a time the fixexts hold, and a Date's.
    if ((ms >= 0 && ms < 2 ** 32 * 1000) || Math.abs(ms) > MAX_DATE_MS) return -1
  }
  if (nanoseconds >= 1e9 || nanoseconds % 1e6 !== 0) return -1
  return at + (token === 0xd7 ? 9 : 14)
}

// The timestamp extension's type (-1), and the farthest a Date reaches from 1970, in ms.
const TIMESTAMP = 0xff
const MAX_DATE_MS = 8.64e15

// The end of the array or map whose header token is `token`, its size bytes from `at`; -1 if the scan
// does not take it (anything else that is no container: 0xC1, extensions).
function containerEnd(bytes: Buffer, token: number, at: number, end: number, depth: number): number {
  let count: number
  let map: boolean
  if (token >= 0x80 && token <= 0x9f) {
    map = token < 0x90
    count = token & 0x0f
  } else if (token >= 0xdc && token <= 0xdf) {
    map = token >= 0xde
    const n = token === 0xdc || token === 0xde ? 2 : 4
    if (at + n > end) return -1
    count = uint(bytes, at, n)
    at += n
  } else return -1
  if (depth >= SCAN_DEPTH) return -1
  // Only a map of two keys or more can hold one twice.
  // Sized for the keys the map says it has, as many as its bytes can hold (each key and value takes
  // a byte at least).
  const keys = map && count > 1 ? new MapKeys(bytes, Math.min(count, (end - at) / 2)) : undefined
  for (let i = 0; i < count; i++) {
    if (map) {
      const keyEnd = stringEnd(bytes, at, end)
      if (keyEnd < 0) return -1
      const text = at + strHeaderBytes(bytes[at])
      if (keyEnd - text === 9 && isProto(bytes, text)) return -1
      if (keys !== undefined && !keys.add(text, keyEnd)) return -1
      at = keyEnd
    }
    at = plainValueEnd(bytes, at, end, depth + 1)
    if (at < 0) return -1
  }
  return at
}

// The keys of one map so far, by where their text lies: a key that comes twice (which a decoder
// reads as its last value, or refuses) leaves the map to the full path, which stores it once. Small
// maps, the common case, compare in place; past SMALL_MAP keys, through a hash table of the keys'
// bytes (a string and a Set entry per key cost a map of a million keys about a second of the loop).
class MapKeys {
  readonly #bytes: Buffer
  // Where each key's text starts and stops, in order.
  readonly #spans: number[] = []
  // Open addressing, at most half full: 1 + the index of the key in a slot, 0 for none.
  #table: Int32Array | undefined
  // Keys the map says it has (as many as its bytes can hold): its table is made for them at once,
  // as growing it key by key cost a million-key map most of its scan in rehashing.
  readonly #expected: number

  constructor(bytes: Buffer, expected: number) {
    this.#bytes = bytes
    this.#expected = expected
  }

  // False when the key whose text is bytes[start, stop) is already there.
  add(start: number, stop: number): boolean {
    const spans = this.#spans
    if (this.#table === undefined) {
      if (spans.length < 2 * SMALL_MAP) {
        for (let i = 0; i < spans.length; i += 2)
          if (sameBytes(this.#bytes, spans[i]!, spans[i + 1]!, start, stop)) return false
        spans.push(start, stop)
        return true
      }
      this.#grow(presized(this.#expected))
    } else if (spans.length >= this.#table.length) this.#grow(2 * this.#table.length)
    if (!this.#insert(spans.length / 2, start, stop)) return false
    spans.push(start, stop)
    return true
  }

  // Puts key `index` (text bytes[start, stop)) in the table; false if an equal key is there.
  #insert(index: number, start: number, stop: number): boolean {
    const table = this.#table!
    const bytes = this.#bytes
    const spans = this.#spans
    // FNV-1a over the text.
    let hash = 0x811c9dc5
    for (let i = start; i < stop; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193)
    const mask = table.length - 1
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const held = table[slot]! - 1
      if (held < 0) {
        table[slot] = index + 1
        return true
      }
      if (sameBytes(bytes, spans[2 * held]!, spans[2 * held + 1]!, start, stop)) return false
    }
  }

  #grow(size: number): void {
    this.#table = new Int32Array(size)
    const spans = this.#spans
    for (let i = 0; i < spans.length; i += 2) this.#insert(i / 2, spans[i]!, spans[i + 1]!)
  }
}

const SMALL_MAP = 8

// Table slots a frame's maps may still be given for the keys they only say they have, so that maps
// nested in one another, each claiming the rest of the frame, cannot make tables of it at every
// level; past it, a table grows with the keys a map does have. Set for each frame by readSetFrame.
let presizeSlots = 0

function presized(expected: number): number {
  const wanted = 2 ** Math.ceil(Math.log2(2 * Math.max(expected, 2 * SMALL_MAP)))
  const size = wanted <= presizeSlots ? wanted : 4 * SMALL_MAP
  presizeSlots -= size
  return size
}

function sameBytes(bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false
  for (let i = 0; i < aEnd - a; i++) if (bytes[a + i] !== bytes[b + i]) return false
  return true
}

// Where the value being scanned holds a float 32 or a -0, in order: renumber() writes them again.
const renumbered: number[] = []

// The value in bytes[start, stop) with each number in `renumbered` written as msgpackr writes what
// the full path reads from it (a float 64, an int, or 0 for -0; at most 9 bytes for 5 or 9).
function renumber(bytes: Buffer, start: number, stop: number): Buffer {
  const result = Buffer.allocUnsafe(stop - start + 4 * renumbered.length)
  let from = start
  let to = 0
  for (const at of renumbered) {
    to += bytes.copy(result, to, from, at)
    const float32 = bytes[at] === 0xca
    to = writeNumber(result, to, float32 ? bytes.readFloatBE(at + 1) : 0)
    from = at + (float32 ? 5 : 9)
  }
  to += bytes.copy(result, to, from, stop)
  return result.subarray(0, to)
}

// Whether the float 64 at `at` is -0: its sign bit alone.
function isNegativeZero(bytes: Uint8Array, at: number): boolean {
  if (bytes[at] !== 0x80) return false
  for (let i = 1; i < 8; i++) if (bytes[at + i] !== 0) return false
  return true
}
