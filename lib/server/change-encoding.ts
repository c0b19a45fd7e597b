// Encoding commits and changes whose SET values may still be the bytes a client sent (EncodedValue,
// lib/server/set-frame.ts): msgpackr writes nil in their place, then the bytes replace each nil.
import { encode, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { EncodedValue } from './set-frame.ts'

const NIL = 0xc0

// Values of this many bytes or more go out as [key, SET_ENCODED, bin of the bytes]: a replica keeps
// the bytes and decodes them when the value is first read, and most values a replica takes it never
// reads (a writer's own, the many keys of a replica that reads a few). Smaller ones decode for about
// what keeping them undecoded costs.
export const ENCODED_FROM_BYTES = 32

// [revision, previous, changes, ...origin], encoded.
export function encodeCommit(
  revision: number,
  previous: number,
  changes: readonly WireChange[],
  origin: readonly unknown[],
): Buffer {
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
  if (bytes[at - 1] !== ChangeKind.SET_ENCODED) return at
  return at + 1 + (1 << (bytes[at]! - 0xc4))
}

function holdsBytes(change: WireChange): boolean {
  return change[2] instanceof EncodedValue
}

function travelsEncoded(change: WireChange): boolean {
  return change.length === 3 && (change[2] as EncodedValue).bytes.length >= ENCODED_FROM_BYTES
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
  const inBin: boolean[] = []
  let size = bytes.length
  for (const change of changes) {
    const value = skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, at)))
    at = value
    for (let item = 2; item < change.length; item++) at = skipItem(bytes, at)
    if (!holdsBytes(change)) continue
    if (bytes[value] !== NIL) throw new Error('change encoding: no nil where the value goes')
    const encoded = (change[2] as EncodedValue).bytes
    const bin = travelsEncoded(change)
    nils.push(value)
    values.push(encoded)
    inBin.push(bin)
    size += encoded.length - 1 + (bin ? binHeaderBytes(encoded.length) : 0)
  }
  const result = Buffer.allocUnsafe(size)
  let from = 0
  let to = 0
  for (let i = 0; i < nils.length; i++) {
    const value = values[i]!
    to += bytes.copy(result, to, from, nils[i])
    if (inBin[i]) to = writeBinHeader(result, to, value.length)
    result.set(value, to)
    to += value.length
    from = nils[i]! + 1
  }
  bytes.copy(result, to, from)
  return result
}

function binHeaderBytes(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

// Writes the header of a bin of n bytes (bin 8, 16 or 32) at `to`; returns where it ends.
function writeBinHeader(target: Buffer, to: number, n: number): number {
  if (n < 0x100) {
    target[to] = 0xc4
    target[to + 1] = n
    return to + 2
  }
  if (n < 0x10000) {
    target[to] = 0xc5
    target.writeUInt16BE(n, to + 1)
    return to + 3
  }
  target[to] = 0xc6
  target.writeUInt32BE(n, to + 1)
  return to + 5
}
