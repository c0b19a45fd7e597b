// What a session's client has not yet confirmed seeing of its own writes. A write is acknowledged by
// its published commit, which names the session and request id (no reply): if the client misses that
// commit and its history is gone, it resyncs from a snapshot, and the snapshot carries these instead,
// so that every write still settles exactly once. Clients confirm the revision they have applied in
// their heartbeat PING, which prunes the log.
export type Ack = readonly [requestId: number, revision: number, result?: unknown]

// A client that never confirms (a foreign or hostile one) cannot grow the log beyond this: the
// oldest acknowledgements are dropped first.
const MAX_UNCONFIRMED = 1 << 18

export class AckLog {
  #entries: Ack[] = []
  #head = 0

  add(ack: Ack): void {
    this.#entries.push(ack)
    if (this.#entries.length - this.#head > MAX_UNCONFIRMED) this.#head++
    this.#compact()
  }

  // The client has applied every commit up to `revision`: their acknowledgements reached it.
  confirm(revision: number): void {
    const entries = this.#entries
    while (this.#head < entries.length && entries[this.#head]![1] <= revision) this.#head++
    this.#compact()
  }

  // Commits after `revision` were never made durable, so never happened: their acknowledgements go.
  dropAfter(revision: number): void {
    while (this.#entries.length > this.#head && this.#entries.at(-1)![1] > revision) this.#entries.pop()
  }

  unconfirmed(): Ack[] {
    return this.#entries.slice(this.#head)
  }

  #compact(): void {
    if (this.#head === this.#entries.length) {
      this.#entries = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head)
      this.#head = 0
    }
  }
}
