// Where the store's values live: as their MessagePack bytes, not as JS objects (a decoded value of
// about 100 bytes costs about three times that on the heap). A value is a span of a chunk: the
// encoded commit that wrote it, the very bytes the history keeps and the turn publishes, so store
// and history share them; or, once that commit has left the history, a slab its values moved to.
// Per key the store keeps one slot number; a slot is a row of flat columns (its chunk, its span, the
// revision that wrote it), not an object of its own.
import { decode } from '../protocol/codec.ts'
import { adoptDecoded } from '../protocol/values.ts'

// Small commits are copied into shared buffers of this size, and values are moved into slabs of this
// size: a buffer of its own costs about a microsecond and a few hundred bytes. Larger ones (over a
// quarter) get a buffer of their own.
const SLAB_BYTES = 64 << 10
const OWN_BUFFER_BYTES = SLAB_BYTES / 4

export class Chunk {
  readonly bytes: Buffer
  // Bytes written so far: a commit is written at once, a slab fills up.
  used: number
  // Bytes of the values that slots point at.
  live = 0
  // Slots given a span of it, in order; some may point elsewhere by now. Made by the first one, to
  // its size: most commits set one key.
  slots: number[] | undefined
  // While the history holds it (a commit) or values are still written into it (the open slab), it is
  // never moved out of, whatever its dead bytes.
  pinned: boolean
  readonly #owner: Slots

  constructor(owner: Slots, bytes: Buffer, used: number, pinned: boolean) {
    this.#owner = owner
    this.bytes = bytes
    this.used = used
    this.pinned = pinned
  }

  // The history no longer holds this commit.
  retire(): void {
    this.#owner.unpin(this)
  }
}

export class Slots {
  // Columns, one row per slot: its chunk (undefined: free), and start, end, revision.
  #chunks: (Chunk | undefined)[] = []
  #rows = new Float64Array(3 * 1024)
  readonly #free: number[] = []
  // The open slab values are moved into, and the shared buffer small commits are copied into.
  #slab: Chunk | undefined
  #commits = Buffer.alloc(0)
  #commitsUsed = 0
  // Unpinned chunks whose dead bytes may call for moving their values; worked through after each change.
  readonly #review: Chunk[] = []

  // A copy of an encoded commit as a chunk, pinned until the history lets it go. A small one shares a
  // buffer with the commits before and after it, which the history lets go of in the same order.
  commitChunk(encoded: Uint8Array): Chunk {
    let bytes: Buffer
    if (encoded.length > OWN_BUFFER_BYTES) bytes = Buffer.allocUnsafeSlow(encoded.length)
    else {
      if (this.#commitsUsed + encoded.length > this.#commits.length) {
        this.#commits = Buffer.allocUnsafeSlow(SLAB_BYTES)
        this.#commitsUsed = 0
      }
      bytes = this.#commits.subarray(this.#commitsUsed, (this.#commitsUsed += encoded.length))
    }
    bytes.set(encoded)
    return new Chunk(this, bytes, bytes.length, true)
  }

  // Bytes read from elsewhere (a snapshot file) as a chunk whose spans slots may point at, pinned
  // until retired.
  adopt(bytes: Buffer): Chunk {
    return new Chunk(this, bytes, bytes.length, true)
  }

  // A new slot, holding nothing yet.
  allocate(): number {
    const slot = this.#free.pop()
    if (slot !== undefined) return slot
    const index = this.#chunks.length
    this.#chunks.push(undefined)
    if (3 * (index + 1) > this.#rows.length) {
      const rows = new Float64Array(2 * this.#rows.length)
      rows.set(this.#rows)
      this.#rows = rows
    }
    return index
  }

  release(slot: number): void {
    this.#detach(slot)
    this.#free.push(slot)
    this.#settle()
  }

  revision(slot: number): number {
    return this.#rows[3 * slot + 2]!
  }

  // The slot's value decoded: a fresh, frozen copy (binary as Uint8Array) each time.
  value(slot: number): unknown {
    const chunk = this.#chunks[slot]
    if (chunk === undefined) return undefined
    return adoptDecoded(decode(chunk.bytes.subarray(this.start(slot), this.end(slot))))
  }

  // Where the slot's value is now: bytes start(slot)..end(slot) of chunk(slot). Bytes once written are
  // never written over, so such a span stays valid for as long as it is kept, whatever the slot does.
  chunk(slot: number): Buffer {
    return this.#chunks[slot]!.bytes
  }
  start(slot: number): number {
    return this.#rows[3 * slot]!
  }
  end(slot: number): number {
    return this.#rows[3 * slot + 1]!
  }

  // The slot's value is bytes start..end of `chunk`, written at `revision`.
  point(slot: number, chunk: Chunk, start: number, end: number, revision: number): void {
    this.#detach(slot)
    this.#attach(slot, chunk, start, end)
    this.#rows[3 * slot + 2] = revision
    this.#settle()
  }

  // The slot's value is `encoded` (copied), written at `revision`.
  write(slot: number, encoded: Uint8Array, revision: number): void {
    this.#detach(slot)
    this.#place(slot, encoded)
    this.#rows[3 * slot + 2] = revision
    this.#settle()
  }

  // A chunk the history let go: from now on its values move out once it is mostly dead bytes.
  unpin(chunk: Chunk): void {
    chunk.pinned = false
    this.#review.push(chunk)
    this.#settle()
  }

  #attach(slot: number, chunk: Chunk, start: number, end: number): void {
    this.#chunks[slot] = chunk
    this.#rows[3 * slot] = start
    this.#rows[3 * slot + 1] = end
    chunk.live += end - start
    if (chunk.slots === undefined) chunk.slots = [slot]
    else chunk.slots.push(slot)
  }

  #detach(slot: number): void {
    const chunk = this.#chunks[slot]
    if (chunk === undefined) return
    this.#chunks[slot] = undefined
    chunk.live -= this.#rows[3 * slot + 1]! - this.#rows[3 * slot]!
    if (chunk.live === 0) chunk.slots = undefined
    if (!chunk.pinned) this.#review.push(chunk)
  }

  // Copies a value into the open slab, or into a chunk of its own when it is large.
  #place(slot: number, encoded: Uint8Array): void {
    if (encoded.length > OWN_BUFFER_BYTES) {
      const own = new Chunk(this, Buffer.allocUnsafeSlow(encoded.length), encoded.length, false)
      own.bytes.set(encoded)
      this.#attach(slot, own, 0, encoded.length)
      return
    }
    let slab = this.#slab
    if (slab === undefined || slab.used + encoded.length > slab.bytes.length) {
      // The full slab is reviewed after this change, like any chunk that was let go.
      if (slab !== undefined) {
        slab.pinned = false
        this.#review.push(slab)
      }
      slab = this.#slab = new Chunk(this, Buffer.allocUnsafeSlow(SLAB_BYTES), 0, true)
    }
    slab.bytes.set(encoded, slab.used)
    this.#attach(slot, slab, slab.used, slab.used + encoded.length)
    slab.used += encoded.length
  }

  // Keeps every unpinned chunk at least half live, and none small (so none shares a buffer with
  // commits): the values of any other are moved to the open slab, and the chunk is left to the GC.
  #settle(): void {
    while (this.#review.length > 0) {
      const chunk = this.#review.pop()!
      if (chunk.pinned || chunk.live === 0) continue
      if (chunk.live * 2 >= chunk.used && chunk.used > OWN_BUFFER_BYTES) continue
      const slots = chunk.slots ?? []
      chunk.slots = undefined
      for (const slot of slots) {
        if (this.#chunks[slot] !== chunk) continue
        const start = this.#rows[3 * slot]!
        const end = this.#rows[3 * slot + 1]!
        chunk.live -= end - start
        this.#place(slot, chunk.bytes.subarray(start, end))
      }
    }
  }
}
