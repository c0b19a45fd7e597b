// Encoding commits and changes whose SET values may still be the bytes a client sent (EncodedValue,
// lib/server/set-frame.ts): msgpackr writes nil in their place, then the bytes replace each nil; the
// commit of a single such set is written here whole, byte for byte as msgpackr would.
import {
  binHeaderSize,
  encode,
  skipArrayHeader,
  skipItem,
  strHeaderBytes,
  strHeaderSize,
  uintSize,
  writeBinHeader,
  writeStrHeader,
  writeUint,
} from '../protocol/codec.ts'
import { isRevision } from '../protocol/frames.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { EncodedValue } from './set-frame.ts'

const NIL = 0xc0

// Whether a value's bytes go out as [key, SET_ENCODED, bin of the bytes]: a replica keeps them and
// decodes them when the value is first read, and most values a replica takes it never reads (a
// writer's own, the many keys of a replica that reads a few). Worth it where reading a change costs a
// replica more decoded than kept, measured per change: a map of 28 bytes 350 ns decoded against 170
// kept (even at 24 bytes: 147 against 145; at 16, 122 against 142), binary data past 64 bytes 650
// against 200 (a copy off the heap; at 64, 139 against 156), a string of 1,000 bytes of accented
// text 4,000 against 400 (ASCII decodes fast: 300 bytes, 134 against 206).
export function keptEncoded(bytes: Uint8Array): boolean {
  const token = bytes[0]!
  if ((token >= 0x80 && token <= 0x9f) || (token >= 0xdc && token <= 0xdf)) return bytes.length >= 24
  // A bin 16 or 32 holds 256 bytes or more; a bin 8 has two bytes of header.
  if (token >= 0xc4 && token <= 0xc6) return token !== 0xc4 || bytes.length - 2 > 64
  return strHeaderBytes(token) !== 0 && bytes.length >= 128
}

// [revision, previous, changes, ...origin], encoded.
export function encodeCommit(
  revision: number,
  previous: number,
  changes: readonly WireChange[],
  origin: readonly unknown[],
): Buffer {
  if (changes.length === 1 && holdsBytes(changes[0]!) && changes[0]!.length === 3) {
    const set = encodeOneSet(revision, previous, changes[0]!, origin)
    if (set !== undefined) return set
  }
  if (!changes.some(holdsBytes)) return encode([revision, previous, changes, ...origin])
  const bytes = encode([revision, previous, changes.map(withNil), ...origin])
  const first = skipArrayHeader(bytes, skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, 0))))
  return spliced(bytes, first, changes)
}

// One change, encoded.
export function encodeChange(change: WireChange): Buffer {
  return holdsBytes(change) ? spliced(encode(withNil(change)), 0, [change]) : encode(change)
}

// Where a SET's value starts in a commit encodeCommit() made, given where the item after its kind
// starts: past the bin header of a SET_ENCODED change.
export function valueStart(bytes: Uint8Array, at: number): number {
  return inBin(bytes, at) ? at + 1 + (1 << (bytes[at]! - 0xc4)) : at
}

// Whether the value of the change whose item after the kind starts at `at` goes in a bin: its kind
// (one byte, before it) says SET_ENCODED, as withNil() made it.
function inBin(bytes: Uint8Array, at: number): boolean {
  return bytes[at - 1] === ChangeKind.SET_ENCODED
}

function holdsBytes(change: WireChange): boolean {
  return change[2] instanceof EncodedValue
}

function travelsEncoded(change: WireChange): boolean {
  return change.length === 3 && keptEncoded((change[2] as EncodedValue).bytes)
}

function withNil(change: WireChange): WireChange {
  if (!holdsBytes(change)) return change
  const copy = [...change] as unknown[]
  if (travelsEncoded(change)) copy[1] = ChangeKind.SET_ENCODED
  copy[2] = null
  return copy as unknown as WireChange
}

// `bytes` with the nil of each change that holds bytes replaced by them (in a bin for SET_ENCODED);
// the changes are encoded one after the other from `at`, each [key, kind, value?, lease?].
function spliced(bytes: Buffer, at: number, changes: readonly WireChange[]): Buffer {
  const nils: number[] = []
  const values: Uint8Array[] = []
  let size = bytes.length
  for (const change of changes) {
    const value = skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, at)))
    at = value
    for (let item = 2; item < change.length; item++) at = skipItem(bytes, at)
    if (!holdsBytes(change)) continue
    if (bytes[value] !== NIL) throw new Error('change encoding: no nil where the value goes')
    const encoded = (change[2] as EncodedValue).bytes
    nils.push(value)
    values.push(encoded)
    size += encoded.length - 1 + (inBin(bytes, value) ? binHeaderSize(encoded.length) : 0)
  }
  const result = Buffer.allocUnsafe(size)
  let from = 0
  let to = 0
  for (let i = 0; i < nils.length; i++) {
    const value = values[i]!
    to += bytes.copy(result, to, from, nils[i])
    if (inBin(bytes, nils[i]!)) to = writeBinHeader(result, to, value.length)
    result.set(value, to)
    to += value.length
    from = nils[i]! + 1
  }
  bytes.copy(result, to, from)
  return result
}

// The commit of one plain set whose value holds bytes, its origin the session and request id: by far
// the most common, and written here in one pass into one buffer, the same bytes encode() and
// spliced() make in several (about a sixth of the server's CPU per set in flight, measured apart).
// Undefined for anything else.
function encodeOneSet(
  revision: number,
  previous: number,
  change: WireChange,
  origin: readonly unknown[],
): Buffer | undefined {
  if (!isRevision(revision) || !isRevision(previous) || origin.length > 2 || !origin.every(isRevision)) return
  const key = change[0]!
  const value = (change[2] as EncodedValue).bytes
  const keyBytes = Buffer.byteLength(key)
  const bin = travelsEncoded(change)
  let size = 3 + uintSize(revision) + uintSize(previous) + strHeaderSize(keyBytes) + keyBytes + 1
  size += (bin ? binHeaderSize(value.length) : 0) + value.length
  for (const n of origin as number[]) size += uintSize(n)
  const out = Buffer.allocUnsafe(size)
  out[0] = 0x93 + origin.length
  let at = writeUint(out, 1, revision)
  at = writeUint(out, at, previous)
  out[at++] = 0x91
  out[at++] = 0x93
  at = writeStrHeader(out, at, keyBytes)
  at += out.write(key, at, keyBytes, 'utf8')
  out[at++] = bin ? ChangeKind.SET_ENCODED : ChangeKind.SET
  if (bin) at = writeBinHeader(out, at, value.length)
  out.set(value, at)
  at += value.length
  for (const n of origin as number[]) at = writeUint(out, at, n)
  return out
}
