// MessagePack encoding for every frame: standard types only, strict decoding.
// msgpackr's plain entry: its main one also loads a native string extractor at once, about a tenth of
// a child process's start-up; that one is loaded once this process has decoded enough to gain from it.
import type { Packr as PackrClass } from 'msgpackr'
import * as plainEntry from 'msgpackr/pack'
import { ErrorCode, ZStateError } from '../errors.ts'
import { importModule } from '../import-module.ts'

// Its types re-export from '.', which NodeNext resolution does not follow: the main entry's types.
type Msgpackr = { Packr: typeof PackrClass; isNativeAccelerationEnabled: boolean }

const OPTIONS = { useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'bigint' } as const
const { Packr } = plainEntry as unknown as Msgpackr
let packr = new Packr(OPTIONS)

// With the extractor, batches of commits and snapshots decode about 1.6 times as fast (the same
// values): msgpackr's main entry shares the plain one's decoder and hands it the extractor as it loads.
// A child process's copy of zstate holds a plain msgpackr of its own (lib/process/bootstrap.ts), which
// the main entry does not reach: that copy decodes with the main entry's Packr from then on (both
// write and read the same bytes; with useRecords off, a Packr keeps nothing between messages).
let bytesBeforeExtractor = 1 << 20

function loadExtractor(): void {
  // Optional, as msgpackr has it: without the native module decoding stays in JavaScript.
  importModule('msgpackr').then(
    (main) => {
      const { Packr: MainPackr, isNativeAccelerationEnabled } = main as Msgpackr
      if (isNativeAccelerationEnabled && MainPackr !== Packr) packr = new MainPackr(OPTIONS)
    },
    () => {},
  )
}

// msgpackr writes every object's header as a map 16 (it counts the keys after writing them), so an
// object of 65,536 keys or more needs a Packr that counts first, which costs every object a little:
// that one is made and used only for values that hold such an object.
let wideMaps: PackrClass | undefined

export function encode(value: unknown): Buffer {
  try {
    return packr.pack(value)
  } catch (error) {
    if (!/16-bit map size/.test((error as Error).message)) throw error
    wideMaps ??= new Packr({ ...OPTIONS, variableMapSize: true })
    return wideMaps.pack(value)
  }
}

// Decodes one whole frame; truncated data, trailing bytes and non-standard types are ERR_PROTOCOL.
export function decode(frame: Uint8Array): unknown {
  if (bytesBeforeExtractor > 0 && (bytesBeforeExtractor -= frame.length) <= 0) loadExtractor()
  return unpacked(packr, frame)
}

// decode(), with every map read as a Map: for a frame that decode() cannot read into objects (a map key
// that is an array, a map or bin, which msgpackr refuses as a property name).
let withMaps: PackrClass | undefined

export function decodeAsMaps(frame: Uint8Array): unknown {
  withMaps ??= new Packr({ ...OPTIONS, mapsAsObjects: false })
  return unpacked(withMaps, frame)
}

// What `reader` makes of `frame`; a frame it cannot read is ERR_PROTOCOL.
function unpacked(reader: PackrClass, frame: Uint8Array): unknown {
  try {
    return reader.unpack(frame)
  } catch (error) {
    throw new ZStateError(ErrorCode.PROTOCOL, `malformed message: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

// Where the MessagePack item that starts at `at` ends, found without decoding it: for bytes this
// process encoded itself (a peer's frame goes through decodeStrict, which checks every length).
export function skipItem(bytes: Uint8Array, at: number): number {
  let items = 1
  while (items > 0) {
    items--
    const token = bytes[at++]!
    // Positive and negative fixint, nil, 0xC1, bool.
    if (token < 0x80 || token >= 0xe0 || (token >= 0xc0 && token <= 0xc3)) continue
    if (token < 0x90) items += 2 * (token - 0x80)
    else if (token < 0xa0) items += token - 0x90
    else if (token < 0xc0) at += token - 0xa0
    else if (token <= 0xc6) {
      const n = 1 << (token - 0xc4) // bin 8/16/32
      at += n + uint(bytes, at, n)
    } else if (token <= 0xc9) {
      const n = 1 << (token - 0xc7) // ext 8/16/32
      at += n + 1 + uint(bytes, at, n)
    } else if (token <= 0xd3) at += FIXED_BYTES[token - 0xca]!
    else if (token <= 0xd8)
      at += 1 + (1 << (token - 0xd4)) // fixext 1…16
    else if (token <= 0xdb) {
      const n = 1 << (token - 0xd9) // str 8/16/32
      at += n + uint(bytes, at, n)
    } else {
      const n = token <= 0xdd ? 2 * (token - 0xdb) : 2 * (token - 0xdd) // array or map 16/32
      items += uint(bytes, at, n) * (token <= 0xdd ? 1 : 2)
      at += n
    }
  }
  if (at > bytes.length) throw new RangeError('skipItem: truncated MessagePack')
  return at
}

// What a value whose encoding starts at `at` is, when it may be large, read from its header alone:
// a map's entries, an array's items, a string's or binary's bytes; undefined for anything else.
export interface Shape {
  readonly kind: 'map' | 'array' | 'string' | 'binary'
  readonly size: number
}

// The tokens whose size follows them: the kind, and how many bytes the size takes.
const SIZED: Partial<Record<number, readonly [Shape['kind'], number]>> = {
  0xc4: ['binary', 1],
  0xc5: ['binary', 2],
  0xc6: ['binary', 4],
  0xd9: ['string', 1],
  0xda: ['string', 2],
  0xdb: ['string', 4],
  0xdc: ['array', 2],
  0xdd: ['array', 4],
  0xde: ['map', 2],
  0xdf: ['map', 4],
}

export function shapeAt(bytes: Uint8Array, at: number): Shape | undefined {
  const token = bytes[at]
  if (token === undefined) return undefined
  if (token >= 0x80 && token <= 0x8f) return { kind: 'map', size: token & 0x0f }
  if (token >= 0x90 && token <= 0x9f) return { kind: 'array', size: token & 0x0f }
  if (token >= 0xa0 && token <= 0xbf) return { kind: 'string', size: token & 0x1f }
  const header = SIZED[token]
  if (header === undefined || at + 1 + header[1] > bytes.length) return undefined
  return { kind: header[0], size: uint(bytes, at + 1, header[1]) }
}

// Where the first item of the MessagePack array whose header is at `at` starts.
export function skipArrayHeader(bytes: Uint8Array, at: number): number {
  const token = bytes[at]!
  if (token >= 0x90 && token <= 0x9f) return at + 1
  if (token === 0xdc) return at + 3
  if (token === 0xdd) return at + 5
  throw new RangeError(`skipArrayHeader: no array at ${at}`)
}

// Bytes after the token of float 32, float 64, uint 8…64 and int 8…64.
export const FIXED_BYTES: readonly number[] = [4, 8, 1, 2, 4, 8, 1, 2, 4, 8]

// The string whose MessagePack item starts at `at` (fixstr, str 8/16/32), read in place, and where
// it ends; undefined for any other item or one that runs past the bytes. Decoded as decode() does.
export function readStringAt(bytes: Buffer, at: number): { value: string; next: number } | undefined {
  const token = bytes[at]
  const header = strHeaderBytes(token)
  if (header === 0 || at + header > bytes.length) return undefined
  const start = at + header
  const next = start + strLength(bytes, at, token!, header)
  return next > bytes.length ? undefined : { value: bytes.toString('utf8', start, next), next }
}

// The bytes of a str's header (fixstr 1, str 8/16/32 2, 3, 5) whose token is `token`; 0 for any other.
export function strHeaderBytes(token: number | undefined): number {
  if (token === undefined) return 0
  if (token >= 0xa0 && token <= 0xbf) return 1
  return token >= 0xd9 && token <= 0xdb ? 1 + (1 << (token - 0xd9)) : 0
}

// The text length of the str at `at`, whose token and header (strHeaderBytes, not 0) are given and
// whose header lies within the bytes.
export function strLength(bytes: Uint8Array, at: number, token: number, header: number): number {
  return header === 1 ? token - 0xa0 : uint(bytes, at + 1, header - 1)
}

// The unsigned big-endian integer of n bytes at `at` (the caller checks the bounds).
export function uint(bytes: Uint8Array, at: number, n: number): number {
  let value = 0
  for (let i = 0; i < n; i++) value = value * 256 + bytes[at + i]!
  return value
}

// MessagePack array header for n items, so already-encoded items can be concatenated into an array.
export function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n])
  if (n < 0x10000) return Buffer.from([0xdc, n >> 8, n & 0xff])
  const header = Buffer.allocUnsafe(5)
  header[0] = 0xdd
  header.writeUInt32BE(n, 1)
  return header
}

// MessagePack headers written in place, as msgpackr writes them, for encoders that assemble a message
// from parts (lib/server/change-encoding.ts). Each writer returns where what it wrote ends.

// An unsigned whole number (below 2^53): a fixint, the shortest uint up to 32 bits, a float 64 from
// 2^32 (session numbers are that large).
export function uintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100000000 ? sizedSize(n) : 9
}

export function writeUint(target: Buffer, to: number, n: number): number {
  if (n < 0x80) {
    target[to] = n
    return to + 1
  }
  if (n < 0x100000000) return writeSized(target, to, UINT_8, n)
  target[to] = FLOAT_64
  target.writeDoubleBE(n, to + 1)
  return to + 9
}

// A number as msgpackr writes it: an integer of up to 32 bits (-0 as 0) in the shortest int format,
// anything else as a float 64.
export function writeNumber(target: Buffer, to: number, n: number): number {
  if (n >>> 0 === n) return writeUint(target, to, n)
  if (n >> 0 !== n) {
    target[to] = FLOAT_64
    target.writeDoubleBE(n, to + 1)
    return to + 9
  }
  if (n >= -0x20) {
    target[to] = 0x100 + n
    return to + 1
  }
  const bytes = n >= -0x80 ? 1 : n >= -0x8000 ? 2 : 4
  target[to] = INT_8 + (bytes >> 1)
  target.writeIntBE(n, to + 1, bytes)
  return to + 1 + bytes
}

// The header of a str of n bytes of UTF-8.
export function strHeaderSize(n: number): number {
  return n < 0x20 ? 1 : sizedSize(n)
}

export function writeStrHeader(target: Buffer, to: number, n: number): number {
  if (n >= 0x20) return writeSized(target, to, STR_8, n)
  target[to] = FIXSTR | n
  return to + 1
}

// The header of a bin of n bytes.
export const binHeaderSize = sizedSize

export function writeBinHeader(target: Buffer, to: number, n: number): number {
  return writeSized(target, to, BIN_8, n)
}

// Tokens whose 16 and 32-bit forms are the next two tokens.
const UINT_8 = 0xcc
const INT_8 = 0xd0
const STR_8 = 0xd9
const BIN_8 = 0xc4
const FIXSTR = 0xa0
const FLOAT_64 = 0xcb

function sizedSize(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

// Writes `token` (a uint's, str's or bin's 8-bit form) or the 16 or 32-bit form after it, then n in
// 1, 2 or 4 bytes, the fewest that hold it.
function writeSized(target: Buffer, to: number, token: number, n: number): number {
  if (n < 0x100) {
    target[to] = token
    target[to + 1] = n
    return to + 2
  }
  if (n < 0x10000) {
    target[to] = token + 1
    target.writeUInt16BE(n, to + 1)
    return to + 3
  }
  target[to] = token + 2
  target.writeUInt32BE(n, to + 1)
  return to + 5
}

// Encodes [head..., [items...]] where items are already encoded, without re-encoding them. `count`:
// how many items the parts make, when an item is given in several parts.
export function encodeWithItems(
  head: readonly unknown[],
  items: readonly Uint8Array[],
  itemBytes: number,
  count = items.length,
): Buffer {
  const prefix: Uint8Array[] = [arrayHeader(head.length + 1)]
  for (const value of head) prefix.push(encode(value))
  prefix.push(arrayHeader(count))
  let total = itemBytes
  for (const part of prefix) total += part.length
  // concat, not spread: items can be far more than a call's argument limit.
  return Buffer.concat(prefix.concat(items), total)
}
