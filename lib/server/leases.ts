// What keeps a key alive besides its value: whether it dies with its writer's session (ephemeral),
// and when it expires (ttl), per key. Kept by the store, so the log and snapshots restore it with
// the keys; which session owns an ephemeral key is the server's (lib/server/key-owners.ts).
import type { WireLease } from '../protocol/ops.ts'

// Expiries are kept by the slot of SLOT_MS they fall in; a sweep looks only at slots that have
// passed, so expired keys are found without scanning the others.
export const SLOT_MS = 250

export class Leases {
  readonly #byKey = new Map<string, WireLease>()
  readonly #slots = new Map<number, Set<string>>()
  // The slots in use, ascending (expiries mostly grow, so a new one usually goes at the end).
  #order: number[] = []

  get size(): number {
    return this.#byKey.size
  }

  get(key: string): WireLease | undefined {
    return this.#byKey.get(key)
  }

  set(key: string, lease: WireLease): void {
    this.clear(key)
    this.#byKey.set(key, lease)
    const [, expiresAt] = lease
    if (expiresAt === 0) return
    const slot = Math.ceil(expiresAt / SLOT_MS)
    let keys = this.#slots.get(slot)
    if (keys === undefined) {
      keys = new Set()
      this.#slots.set(slot, keys)
      this.#insertSlot(slot)
    }
    keys.add(key)
  }

  // The key is permanent again (written without a lease) or gone.
  clear(key: string): void {
    const lease = this.#byKey.get(key)
    if (lease === undefined) return
    this.#byKey.delete(key)
    if (lease[1] !== 0) this.#slots.get(Math.ceil(lease[1] / SLOT_MS))?.delete(key)
  }

  clearAll(): void {
    this.#byKey.clear()
    this.#slots.clear()
    this.#order = []
  }

  // Keys whose expiry is at or before `now` (ms since the epoch); they stay leased until deleted.
  expired(now: number): string[] {
    const due: string[] = []
    let passed = 0
    while (passed < this.#order.length && this.#order[passed]! * SLOT_MS <= now) {
      const slot = this.#order[passed++]!
      const keys = this.#slots.get(slot)
      this.#slots.delete(slot)
      if (keys !== undefined) for (const key of keys) due.push(key)
    }
    if (passed > 0) this.#order = this.#order.slice(passed)
    return due
  }

  // Whether the key's ttl has run out by `now` (it may have been written again since a sweep found it).
  isExpired(key: string, now: number): boolean {
    const expiresAt = this.#byKey.get(key)?.[1]
    return expiresAt !== undefined && expiresAt !== 0 && expiresAt <= now
  }

  // Keys a sweep found whose deletion did not go through: found again by the next sweep.
  reschedule(keys: Iterable<string>): void {
    for (const key of keys) {
      const lease = this.#byKey.get(key)
      if (lease !== undefined) this.set(key, lease)
    }
  }

  // Every ephemeral key: none survives a restart, as no session does.
  ephemeral(): string[] {
    const keys: string[] = []
    for (const [key, [ephemeral]] of this.#byKey) if (ephemeral) keys.push(key)
    return keys
  }

  #insertSlot(slot: number): void {
    const order = this.#order
    let i = order.length
    while (i > 0 && order[i - 1]! > slot) i--
    order.splice(i, 0, slot)
  }
}
