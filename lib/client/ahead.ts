// Commits received but not yet applied (lib/client/sync.ts). Nearly all arrive in order, each
// following the one before: those wait in a plain array, read from its head. Only a commit past a gap
// waits in a map by the revision it follows, until the gap is repaired. (A map for all of them costs
// its hashing and, as a burst of thousands passes through, the growth and shrinking of its table.)
import type { WireCommit } from '../protocol/ops.ts'

// Taken commits the array may keep before it drops them (else a stream that never lets the queue
// empty would keep every commit it ever held).
const COMPACT_AT = 4096

export class AheadCommits {
  // A chain of commits, from queue[head], that follows on from what the replica had when they came.
  #queue: WireCommit[] = []
  #head = 0
  // The rest, by the revision each follows.
  readonly #gapped = new Map<number, WireCommit>()

  get size(): number {
    return this.#queue.length - this.#head + this.#gapped.size
  }

  // Holds `commit` for a replica at `applied`; one already held or applied is ignored.
  add(commit: WireCommit, applied: number): void {
    const last = this.#head < this.#queue.length ? this.#queue[this.#queue.length - 1]!.revision : applied
    if (commit.previous === last) this.#queue.push(commit)
    else if (commit.revision > last) this.#gapped.set(commit.previous, commit)
  }

  // The commit that follows `applied`, taken out; undefined when it has not come.
  take(applied: number): WireCommit | undefined {
    const queue = this.#queue
    while (this.#head < queue.length) {
      const commit = queue[this.#head]!
      if (commit.revision <= applied) {
        this.#head++
        continue
      }
      if (commit.previous !== applied) {
        // The replica jumped into the chain's middle (a snapshot): the map finds what follows.
        this.#spill()
        break
      }
      this.#head++
      // The same commit may also wait past a gap it came before (a repair overlapping PUB).
      if (this.#gapped.size > 0) this.#gapped.delete(applied)
      if (this.#head === queue.length) this.#reset()
      else if (this.#head >= COMPACT_AT && this.#head * 2 >= queue.length) {
        queue.splice(0, this.#head)
        this.#head = 0
      }
      return commit
    }
    const commit = this.#gapped.get(applied)
    if (commit !== undefined) this.#gapped.delete(applied)
    return commit
  }

  // Whether commits wait but the one that follows `applied` is not among them: a gap.
  gapAfter(applied: number): boolean {
    if (this.#head < this.#queue.length) return false
    return this.#gapped.size > 0 && !this.#gapped.has(applied)
  }

  // The revision the earliest waiting commit follows: the end of the first missing run, if any.
  firstFollowed(): number | undefined {
    let first = this.#head < this.#queue.length ? this.#queue[this.#head]!.previous : Infinity
    for (const previous of this.#gapped.keys()) if (previous < first) first = previous
    return first === Infinity ? undefined : first
  }

  // Forgets the commits a replica now at `applied` no longer needs.
  dropUpTo(applied: number): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.revision <= applied) this.#head++
    if (this.#head === this.#queue.length) this.#reset()
    for (const [previous, commit] of this.#gapped)
      if (commit.revision <= applied) this.#gapped.delete(previous)
  }

  clear(): void {
    this.#reset()
    this.#gapped.clear()
  }

  #spill(): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const commit = this.#queue[i]!
      this.#gapped.set(commit.previous, commit)
    }
    this.#reset()
  }

  #reset(): void {
    this.#queue = []
    this.#head = 0
  }
}
