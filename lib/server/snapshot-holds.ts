// Snapshots in progress, bounded for the whole server. A capture holds a reference to every entry of
// the store as of its revision (about 33 bytes an entry, and the values overwritten since) until its
// last page is fetched; sessions cost nothing to open, so without a bound a client that starts
// snapshots and never finishes them could hold the server's memory many times over.
import { ErrorCode, ZStateError } from '../errors.ts'
import type { Session } from './sessions.ts'

// Entries held in all, at least: a snapshot of a small store never waits for room.
export const MIN_HELD_ENTRIES = 250_000
// Whole stores' worth of entries held in all: this many clients join a large store at once.
export const STORES_HELD = 8
// A capture whose next page was not asked for in this long may be dropped to make room for another.
export const IDLE_MS = 5_000

export class SnapshotHolds {
  readonly #held = new Map<Session, { entries: number; touched: number }>()
  #entries = 0

  // Entries held by unfinished snapshots (STATS).
  get entries(): number {
    return this.#entries
  }

  // Admits a new capture of `entries` for `session` (in place of any it held), dropping idle captures
  // of others, oldest first, while it does not fit. ERR_OVERFLOW when it still does not: the client
  // asks again a moment later. One capture alone is always admitted.
  admit(session: Session, entries: number, storeSize: number, now: number): void {
    this.release(session)
    const limit = Math.max(MIN_HELD_ENTRIES, STORES_HELD * storeSize)
    if (this.#entries + entries > limit) {
      const idle = [...this.#held].filter(([, hold]) => now - hold.touched >= IDLE_MS)
      idle.sort(([, a], [, b]) => a.touched - b.touched)
      for (const [owner] of idle) {
        if (this.#entries + entries <= limit) break
        owner.snapshot = undefined
        this.release(owner)
      }
    }
    if (this.#held.size > 0 && this.#entries + entries > limit) {
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `snapshot: other clients' snapshots in progress hold ${this.#entries} of the ${limit} entries ` +
          'the server holds for them; ask again',
      )
    }
    this.#held.set(session, { entries, touched: now })
    this.#entries += entries
  }

  // The session asked for its next page.
  touch(session: Session, now: number): void {
    const hold = this.#held.get(session)
    if (hold !== undefined) hold.touched = now
  }

  // Its snapshot is done, replaced, dropped, or the session is gone.
  release(session: Session): void {
    const hold = this.#held.get(session)
    if (hold === undefined) return
    this.#held.delete(session)
    this.#entries -= hold.entries
  }

  clear(): void {
    this.#held.clear()
    this.#entries = 0
  }
}
