// The key prefixes a partial replica keeps (connect({ replicate }), HELLO's fifth argument): checked
// the same way on both sides of the wire, and matched in O(log n) per key, so that what a client
// sends in HELLO bounds what every commit costs the server on its behalf.
import { invalidArgument } from '../errors.ts'
import { LONE_SURROGATE, describe } from './values.ts'

// At most this many prefixes, each at most as long as a key.
export const MAX_PREFIXES = 256
export const MAX_PREFIX_BYTES = 1024

// A `replicate` option (connect, spawn, map): undefined for every key, else the prefixes checked and
// copied (the caller's array may change; the client keeps what it joined with).
export function replicateOption(value: unknown, what: string): readonly string[] | undefined {
  if (value === undefined) return undefined
  checkPrefixes(value, what)
  return [...value]
}

// Throws ERR_INVALID_ARGUMENT naming `what`, what was expected and what arrived.
export function checkPrefixes(value: unknown, what: string): asserts value is readonly string[] {
  if (!Array.isArray(value))
    throw invalidArgument(`${what} must be an array of key prefixes, got ${describe(value)}`)
  if (value.length > MAX_PREFIXES)
    throw invalidArgument(`${what} holds ${value.length} prefixes; at most ${MAX_PREFIXES} are allowed`)
  for (let i = 0; i < value.length; i++) {
    const prefix: unknown = value[i]
    if (typeof prefix !== 'string')
      throw invalidArgument(`${what}[${i}] must be a string, got ${describe(prefix)}`)
    if (!prefix.isWellFormed()) throw invalidArgument(`${what}[${i}] must not hold ${LONE_SURROGATE}`)
    // Up to 341 UTF-16 units cannot exceed 1,023 UTF-8 bytes, so only long prefixes are measured.
    if (prefix.length > 341 && Buffer.byteLength(prefix) > MAX_PREFIX_BYTES)
      throw invalidArgument(`${what}[${i}] is longer than ${MAX_PREFIX_BYTES} UTF-8 bytes`)
  }
}

export class Prefixes {
  // Sorted, and none a prefix of another: a key can only start with the last one not above it.
  readonly #heads: readonly string[]

  constructor(prefixes: readonly string[]) {
    const heads: string[] = []
    for (const prefix of [...prefixes].sort(compare)) {
      const last = heads[heads.length - 1]
      // Sorted: every string between p and an extension of p starts with p, so comparing with the
      // last head kept is enough.
      if (last === undefined || !prefix.startsWith(last)) heads.push(prefix)
    }
    this.#heads = heads
  }

  // Nothing is replicated (a pure writer).
  get none(): boolean {
    return this.#heads.length === 0
  }

  // Everything is (the prefix '').
  get all(): boolean {
    return this.#heads[0] === ''
  }

  // Whether `key` starts with one of the prefixes. Also true for a prefix all of whose keys do.
  covers(key: string): boolean {
    const heads = this.#heads
    let low = 0
    let high = heads.length
    // The last head ≤ key.
    while (low < high) {
      const mid = (low + high) >>> 1
      if (heads[mid]! <= key) low = mid + 1
      else high = mid
    }
    return low > 0 && key.startsWith(heads[low - 1]!)
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
