// Encoding commits and changes whose SET values may still be the bytes a client sent (EncodedValue,
// lib/server/set-frame.ts): msgpackr writes nil in their place, then the bytes replace each nil.
import { encode, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import type { WireChange } from '../protocol/ops.ts'
import { EncodedValue } from './set-frame.ts'

const NIL = 0xc0

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

function holdsBytes(change: WireChange): boolean {
  return change[2] instanceof EncodedValue
}

function withNil(change: WireChange): WireChange {
  if (!holdsBytes(change)) return change
  const copy = [...change] as unknown[]
  copy[2] = null
  return copy as unknown as WireChange
}

// `bytes` with the nil of each change that holds bytes replaced by them; the changes are encoded one
// after the other from `at`, each [key, kind, value?, lease?].
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
    size += encoded.length - 1
  }
  const result = Buffer.allocUnsafe(size)
  let from = 0
  let to = 0
  for (let i = 0; i < nils.length; i++) {
    to += bytes.copy(result, to, from, nils[i])
    result.set(values[i]!, to)
    to += values[i]!.length
    from = nils[i]! + 1
  }
  bytes.copy(result, to, from)
  return result
}
