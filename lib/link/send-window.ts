// What a client has sent that its server may not have worked through yet (docs/protocol.md,
// Budgets). The server refuses a client's frames beyond 2 × maxMessageBytes waiting for their turn
// (ERR_OVERFLOW, nothing applied), so a client that issues a burst of large requests at once (200
// sets of 256 KiB) sends at most maxMessageBytes ahead, and the rest once the server is through
// enough. It handles a connection's frames in order: the reply to a request, or its acknowledgement
// by a commit, proves that its frame and every one before it were worked through.
// Confirmed frames are dropped from the front of the arrays once this many have gathered.
const COMPACT_AT = 1024

export class SendWindow {
  // The frames sent, oldest first from #head: the first and last request id each holds (0 for a
  // frame of posts only, which no reply names) and its bytes.
  #firsts: number[] = []
  #lasts: number[] = []
  #sizes: number[] = []
  #head = 0
  #bytes = 0
  // The index of the request sent ahead to ask for a confirmation while it is unconfirmed; -1: none.
  // Its id is above those of the frames sent after it; every other frame's ids are above those of
  // the frames before it.
  #asking = -1

  // Whether a frame of `bytes` may go now, within `limit`: always when nothing is unconfirmed, as
  // one frame is within the server's bound on its own.
  admits(bytes: number, limit: number): boolean {
    return this.#bytes === 0 || this.#bytes + bytes <= limit
  }

  // Whether a request asking for a confirmation is out and not yet confirmed itself.
  get asking(): boolean {
    return this.#asking !== -1
  }

  // `first` and `last`: the request ids in the frame (0: none). `asking`: a request sent ahead of the
  // queue to ask for a confirmation.
  sent(first: number, last: number, bytes: number, asking = false): void {
    if (asking) this.#asking = this.#firsts.length
    this.#firsts.push(first)
    this.#lasts.push(last)
    this.#sizes.push(bytes)
    this.#bytes += bytes
  }

  // The reply to request `id` arrived (or its acknowledgement): its frame and those before it are
  // worked through. Whether that confirmed anything.
  confirm(id: number): boolean {
    const firsts = this.#firsts
    const lasts = this.#lasts
    const end = firsts.length
    let at = this.#head
    // Most replies name the oldest frame, or one already confirmed (the rest of a batch of writes):
    // below the oldest frame's first id, unless that frame is the request that asked.
    if (at === end) return false
    if (at !== this.#asking && firsts[at] !== 0 && id < firsts[at]!) return false
    while (at < end && !(firsts[at] !== 0 && firsts[at]! <= id && id <= lasts[at]!)) at++
    if (at === end) return false
    for (let i = this.#head; i <= at; i++) this.#bytes -= this.#sizes[i]!
    if (this.#asking !== -1 && this.#asking <= at) this.#asking = -1
    this.#head = at + 1
    if (this.#head === end) this.clear()
    else if (this.#head >= COMPACT_AT && this.#head * 2 >= end) this.#compact()
    return true
  }

  #compact(): void {
    this.#firsts = this.#firsts.slice(this.#head)
    this.#lasts = this.#lasts.slice(this.#head)
    this.#sizes = this.#sizes.slice(this.#head)
    if (this.#asking !== -1) this.#asking -= this.#head
    this.#head = 0
  }

  // Emptied in place: an awaited write empties the window at every reply, and should leave no garbage.
  clear(): void {
    this.#firsts.length = 0
    this.#lasts.length = 0
    this.#sizes.length = 0
    this.#head = 0
    this.#bytes = 0
    this.#asking = -1
  }
}
