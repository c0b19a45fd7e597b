// The key/value store and its revision counter: the only writer of state. It also remembers when
// each key last changed (deleted keys too, for as long as the history reaches back), which is
// what transactions are validated against. Values are kept encoded (lib/server/slots.ts), in the
// bytes of the commit that wrote them; reading one decodes it.
import { randomBytes } from 'node:crypto'
import { encode, shapeAt, skipArrayHeader, skipItem, type Shape } from '../protocol/codec.ts'
import { ChangeKind, type WireChange, type WireLease } from '../protocol/ops.ts'
import { applyWirePatches, type WirePatch } from '../protocol/patches.ts'
import { encodeCommit, valueStart } from './change-encoding.ts'
import { EncodedValue } from './set-frame.ts'
import { Leases } from './leases.ts'
import type { SnapshotEntries } from '../storage/snapshot-reader.ts'
import { Slots, type Chunk } from './slots.ts'
import { ownString } from './own-string.ts'

// A new run of the store: 16 hex digits.
export function freshEpoch(): string {
  return randomBytes(8).toString('hex')
}

// What an operation reads the state through (lib/server/operations.ts): the store itself, or, on an
// etcd gateway, a view of it that records what was read (lib/server/etcd/read-set.ts).
export interface StoreView {
  readonly epoch: string
  readonly revision: number
  readonly size: number
  get(key: string): unknown
  // The value's shape from its encoding, without decoding it, where that is cheaper than get():
  // undefined for an absent key, a small value, or one already decoded.
  shape(key: string): Shape | undefined
  has(key: string): boolean
  keys(): IterableIterator<string>
  patched(key: string, patches: readonly WirePatch[]): unknown
  changedSince(base: number, keys: Iterable<string>, keySpace: boolean): string[]
}

export class Store implements StoreView {
  readonly epoch: string
  #revision = 0
  // Each key's slot: its value and the revision that last wrote it.
  readonly #keys = new Map<string, number>()
  readonly #slots = new Slots()
  readonly #tombstones = new Map<string, number>()
  // The keys written with a lease (ephemeral, ttl); any other write of a key makes it permanent.
  readonly leases = new Leases()
  // Deletions at or before this revision are forgotten: nothing is known about them.
  #horizon = 0
  // The last revision that created or deleted a key.
  #keySpaceChanged = 0

  // `epoch`: a restarted server's, when clients may go on with what they hold; by default a new one.
  constructor(epoch?: string) {
    this.epoch = epoch ?? freshEpoch()
  }

  get revision(): number {
    return this.#revision
  }
  get size(): number {
    return this.#keys.size
  }
  // A fresh decoded copy of the value, frozen: the cost of a read is the size of the value.
  get(key: string): unknown {
    const slot = this.#keys.get(key)
    return slot === undefined ? undefined : this.#slots.value(slot)
  }
  shape(key: string): Shape | undefined {
    const slot = this.#keys.get(key)
    return slot === undefined ? undefined : shapeAt(this.#slots.chunk(slot), this.#slots.start(slot))
  }
  has(key: string): boolean {
    return this.#keys.has(key)
  }
  keys(): IterableIterator<string> {
    return this.#keys.keys()
  }
  // The revision that last wrote the key; 0 when it does not exist.
  revisionOf(key: string): number {
    const slot = this.#keys.get(key)
    return slot === undefined ? 0 : this.#slots.revision(slot)
  }

  // Calls `visit` with every key, where its encoded value is now and the revision that wrote it. The
  // bytes of such a span are never written over: kept, they still show the value of this revision
  // after later commits.
  spans(
    visit: (
      key: string,
      chunk: Buffer,
      start: number,
      end: number,
      revision: number,
      lease: WireLease | undefined,
    ) => void,
  ): void {
    const slots = this.#slots
    for (const [key, slot] of this.#keys)
      visit(
        key,
        slots.chunk(slot),
        slots.start(slot),
        slots.end(slot),
        slots.revision(slot),
        this.leases.get(key),
      )
  }

  // Restoring, into a store no commit has touched yet, then restoreRevision(): a key with its encoded
  // value (copied) and the revision that wrote it (an etcd gateway's first read). Keys are kept as
  // given: the callers read each into a string of its own.
  restore(key: string, keyRevision: number, encoded: Uint8Array, lease?: WireLease): void {
    this.#slots.write(this.#restoredSlot(key, lease), encoded, keyRevision)
  }

  // A snapshot's entries (lib/storage/replay.ts): each key points at its value where it lies in the
  // file's bytes, which the store keeps as a chunk (its values move out, as any chunk's do, once it
  // is mostly dead bytes).
  restoreSnapshot(file: Buffer, entries: SnapshotEntries): void {
    const chunk = this.#slots.adopt(file)
    const { keys, revisions, starts, ends, leases } = entries
    for (let i = 0; i < keys.length; i++)
      this.#slots.point(
        this.#restoredSlot(keys[i]!, leases.get(i)),
        chunk,
        starts[i]!,
        ends[i]!,
        revisions[i]!,
      )
    chunk.retire()
  }

  #restoredSlot(key: string, lease: WireLease | undefined): number {
    let slot = this.#keys.get(key)
    if (slot === undefined) {
      slot = this.#slots.allocate()
      this.#keys.set(key, slot)
    }
    if (lease !== undefined) this.leases.set(key, lease)
    return slot
  }

  // The snapshot's revision. What was deleted before it is unknown, and so is when the key space
  // last changed: transactions based before it conflict, as after the history forgot them.
  restoreRevision(revision: number): void {
    this.#revision = revision
    this.#horizon = revision
    this.#keySpaceChanged = revision
  }

  // The value a patch change leads to; throws (ERR_INVALID_ARGUMENT) when the patches do not apply.
  patched(key: string, patches: readonly WirePatch[]): unknown {
    return applyWirePatches(this.get(key), patches)
  }

  // Applies one commit's changes, gives it the next revision and returns the commit encoded, as
  // [revision, previous, changes, ...origin], for the history and the change stream: the values it
  // sets stay in those bytes. `patched` holds the results of PATCH changes, computed (and so
  // validated) before anything was applied. An etcd gateway gives etcd's `revision`, which need not
  // be the next, and the `previous` commit every gateway of the state names (lib/server/etcd).
  commit(
    changes: readonly WireChange[],
    patched: ReadonlyMap<string, unknown> | undefined,
    origin: readonly unknown[],
    revision = this.#revision + 1,
    previous = this.#revision,
  ): Chunk {
    return this.#apply(encodeCommit(revision, previous, changes, origin), changes, patched, revision)
  }

  // A commit from the log (lib/storage/replay.ts): its bytes exactly as commit() encoded them, so
  // neither its values nor the commit are encoded again. A SET's value in `changes` is not read.
  replay(encoded: Uint8Array, changes: readonly WireChange[], patched: ReadonlyMap<string, unknown>): Chunk {
    return this.#apply(encoded, changes, patched, this.#revision + 1)
  }

  #apply(
    encoded: Uint8Array,
    changes: readonly WireChange[],
    patched: ReadonlyMap<string, unknown> | undefined,
    revision: number,
  ): Chunk {
    const chunk = this.#slots.commitChunk(encoded)
    this.#revision = revision
    const bytes = chunk.bytes
    // Past revision and previous, into the changes: each is [key, kind, payload?, lease?].
    let at = skipArrayHeader(bytes, skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, 0))))
    for (const change of changes) {
      at = skipItem(bytes, skipItem(bytes, skipArrayHeader(bytes, at)))
      const start = at
      if (change.length > 2) at = skipItem(bytes, at)
      switch (change[1]) {
        case ChangeKind.SET: {
          const slot = this.#slotFor(change[0], revision)
          this.#slots.point(slot, chunk, valueStart(bytes, start), at, revision)
          if (change.length === 4) {
            at = skipItem(bytes, at)
            this.leases.set(ownString(change[0]), change[3])
          } else this.leases.clear(change[0])
          break
        }
        case ChangeKind.PATCH: {
          // Encoded already where the server bounded its size (lib/server/value-size.ts).
          const held = patched!.get(change[0])
          const value = held instanceof EncodedValue ? held.bytes : encode(held)
          this.#slots.write(this.#slotFor(change[0], revision), value, revision)
          this.leases.clear(change[0])
          break
        }
        case ChangeKind.DELETE:
          this.#delete(change[0], revision)
          break
        case ChangeKind.CLEAR:
          for (const k of [...this.#keys.keys()]) this.#delete(k, revision)
          this.leases.clearAll()
          break
      }
    }
    return chunk
  }

  // The key's slot, made when the key is new.
  #slotFor(key: string, revision: number): number {
    const slot = this.#keys.get(key)
    if (slot !== undefined) return slot
    this.#keySpaceChanged = revision
    this.#tombstones.delete(key)
    const created = this.#slots.allocate()
    this.#keys.set(ownString(key), created)
    return created
  }

  #delete(key: string, revision: number): void {
    const slot = this.#keys.get(key)
    if (slot === undefined) return
    this.#keys.delete(key)
    this.leases.clear(key)
    this.#slots.release(slot)
    this.#tombstones.set(ownString(key), revision)
    this.#keySpaceChanged = revision
  }

  // Keys that changed after `base`; a key whose history is forgotten counts as changed.
  changedSince(base: number, keys: Iterable<string>, keySpace: boolean): string[] {
    const changed: string[] = []
    for (const key of keys) {
      const slot = this.#keys.get(key)
      const revision =
        slot !== undefined
          ? this.#slots.revision(slot)
          : (this.#tombstones.get(key) ?? (base < this.#horizon ? Infinity : 0))
      if (revision > base) changed.push(key)
    }
    if (keySpace && this.#keySpaceChanged > base && changed.length === 0) changed.push('*')
    return changed
  }

  // Forgets deletions at or before `revision` (the history no longer reaches them).
  forgetBefore(revision: number): void {
    if (revision <= this.#horizon) return
    this.#horizon = revision
    for (const [key, deleted] of this.#tombstones) if (deleted <= revision) this.#tombstones.delete(key)
  }
}
