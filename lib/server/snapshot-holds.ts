// Snapshots in progress, bounded for the whole server. A capture holds a reference to every entry of
// the store as of its revision (about 33 bytes an entry, and the values overwritten since) until the
// last page is fetched; sessions cost nothing to open, so without a bound a client that starts
// snapshots and never finishes them could hold the server's memory many times over. Sessions that
// start a full snapshot at the same revision (many children joining at once) share one capture.
import { ErrorCode, ZStateError } from '../errors.ts'
import type { Session } from './sessions.ts'
import type { SnapshotEntries } from './snapshots.ts'

// Entries held in all, at least: a snapshot of a small store never waits for room.
export const MIN_HELD_ENTRIES = 250_000
// Whole stores' worth of entries held in all: this many captures of the store at once.
export const STORES_HELD = 16
// A capture none of whose readers asked for a page in this long may be dropped to make room.
export const IDLE_MS = 5_000

interface Capture {
  readonly readers: Set<Session>
  touched: number
  // The store's revision, for a capture of every key (not a partial session's).
  readonly fullAt: number | undefined
}

// What a session reads is its own: session.snapshot.entries. A capture here lists its readers.
export class SnapshotHolds {
  readonly #captures = new Map<SnapshotEntries, Capture>()
  readonly #fullAt = new Map<number, SnapshotEntries>()
  #entries = 0

  // Entries held by unfinished snapshots (STATS).
  get entries(): number {
    return this.#entries
  }

  // A capture of every key at `revision` that others are reading: a session starting a full snapshot
  // then shares it rather than take its own.
  sharedAt(revision: number): SnapshotEntries | undefined {
    return this.#fullAt.get(revision)
  }

  // `session`, which reads nothing now (release() first), is to read `entries`: the caller sets its
  // snapshot. A capture not held yet must fit: idle ones of others are dropped, oldest first, while
  // it does not; ERR_OVERFLOW when it still does not (the client asks again a moment later). One
  // capture alone always fits.
  admit(
    session: Session,
    entries: SnapshotEntries,
    fullAt: number | undefined,
    storeSize: number,
    now: number,
  ): void {
    let capture = this.#captures.get(entries)
    if (capture === undefined) {
      const size = entries.keys.length
      const limit = Math.max(MIN_HELD_ENTRIES, STORES_HELD * storeSize)
      if (this.#entries + size > limit) this.#dropIdle(this.#entries + size - limit, now)
      if (this.#captures.size > 0 && this.#entries + size > limit) {
        throw new ZStateError(
          ErrorCode.OVERFLOW,
          `snapshot: other clients' snapshots in progress hold ${this.#entries} of the ${limit} entries ` +
            'the server holds for them; ask again',
        )
      }
      capture = { readers: new Set(), touched: now, fullAt }
      this.#captures.set(entries, capture)
      if (fullAt !== undefined) this.#fullAt.set(fullAt, entries)
      this.#entries += size
    }
    capture.readers.add(session)
    capture.touched = now
  }

  // The session asked for its next page.
  touch(session: Session, now: number): void {
    const entries = session.snapshot?.entries
    if (entries !== undefined) this.#captures.get(entries)!.touched = now
  }

  // Its snapshot is done, to be replaced, or the session is gone: it reads nothing any more.
  release(session: Session): void {
    const entries = session.snapshot?.entries
    session.snapshot = undefined
    const capture = entries === undefined ? undefined : this.#captures.get(entries)
    if (capture === undefined) return
    capture.readers.delete(session)
    if (capture.readers.size === 0) this.#forget(entries!, capture)
  }

  // Every session's snapshot ends (the store was reloaded).
  clear(): void {
    for (const capture of this.#captures.values())
      for (const reader of capture.readers) reader.snapshot = undefined
    this.#captures.clear()
    this.#fullAt.clear()
    this.#entries = 0
  }

  // Drops captures idle for IDLE_MS, oldest first, until `needed` entries are free (or none is left):
  // their readers' next page is ERR_OVERFLOW, and they start again.
  #dropIdle(needed: number, now: number): void {
    const idle = [...this.#captures].filter(([, capture]) => now - capture.touched >= IDLE_MS)
    idle.sort(([, a], [, b]) => a.touched - b.touched)
    let freed = 0
    for (const [entries, capture] of idle) {
      if (freed >= needed) return
      for (const reader of capture.readers) reader.snapshot = undefined
      this.#forget(entries, capture)
      freed += entries.keys.length
    }
  }

  #forget(entries: SnapshotEntries, capture: Capture): void {
    this.#captures.delete(entries)
    this.#entries -= entries.keys.length
    if (capture.fullAt !== undefined && this.#fullAt.get(capture.fullAt) === entries)
      this.#fullAt.delete(capture.fullAt)
  }
}
