// Ephemeral and expiring keys on the wire: what a SET may ask for and the lease its change carries
// (docs/protocol.md, "Leases").
import type { WireLease } from './ops.ts'

// The longest ttl a key may have: a year, in ms.
export const MAX_TTL_MS = 365 * 24 * 3600 * 1000

export function isTtl(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= MAX_TTL_MS
}

// The lease of a SET asking for `ephemeral` and `ttl` (ms; 0: none) at `now`; undefined: permanent.
export function leaseFor(ephemeral: boolean, ttl: number, now: number): WireLease | undefined {
  if (!ephemeral && ttl === 0) return undefined
  return [ephemeral, ttl === 0 ? 0 : now + ttl]
}

// A lease as read from the log or a snapshot: [ephemeral, expiresAt]; undefined when it is not one.
export function readLease(raw: unknown): WireLease | undefined {
  if (!Array.isArray(raw) || raw.length !== 2) return undefined
  const [ephemeral, expiresAt] = raw as unknown[]
  if (typeof ephemeral !== 'boolean' || !Number.isSafeInteger(expiresAt) || (expiresAt as number) < 0)
    return undefined
  if (!ephemeral && expiresAt === 0) return undefined
  return [ephemeral, expiresAt as number]
}
