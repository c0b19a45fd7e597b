// The order of a client's writes when an atomic is among them (docs/state.md, Order). Every other
// write is one request, and the server commits a session's requests in the order it gets them; an
// atomic may take several attempts, each sent only once its fn has run. So once an atomic has sent its
// first attempt, it holds the order: the writes its client issues from then on (atomics' attempts
// included) wait, encoded as they were issued, until it has settled, and then go in that order. Writes
// issued while its fn first runs go at once, before it: fn may await them, and must not wait for
// itself (writes belong in the draft, not through the state; docs/transactions.md).
import { encodeRequest, type ReplyReader } from '../link/channel.ts'
import type { Op } from '../protocol/ops.ts'

export interface WriteSender {
  request<T = unknown[]>(op: Op, args: readonly unknown[], read?: ReplyReader<T>): Promise<T>
  requestEncoded<T = unknown[]>(op: Op, message: Buffer, read?: ReplyReader<T>): Promise<T>
}

// Who holds the order: one atomic call, from its first attempt until it settles.
export type Holder = object

export class WriteOrder {
  readonly #sender: WriteSender
  #holder: Holder | undefined
  // Writes waiting for the order, in issue order, from #next on (a queue that release() drains
  // without shifting the array once per write).
  #held: (() => void)[] = []
  #next = 0

  constructor(sender: WriteSender) {
    this.#sender = sender
  }

  // A write: sent now, unless an atomic holds the order.
  request<T = unknown[]>(op: Op, args: readonly unknown[], read?: ReplyReader<T>): Promise<T> {
    if (this.#holder === undefined) return this.#sender.request(op, args, read)
    return this.#hold(undefined, op, args, read)
  }

  // An attempt of the atomic `holder`: sent now if the order is free or its own, else once the writes
  // before it have gone; from then on the order is the atomic's until release().
  attempt<T = unknown[]>(
    holder: Holder,
    op: Op,
    args: readonly unknown[],
    read?: ReplyReader<T>,
  ): Promise<T> {
    if (this.#holder !== undefined && this.#holder !== holder) return this.#hold(holder, op, args, read)
    this.#holder = holder
    return this.#sender.request(op, args, read)
  }

  // The atomic has settled (or never sent an attempt): what waited goes, in order, until a waiting
  // attempt takes the order again.
  release(holder: Holder): void {
    if (this.#holder !== holder) return
    this.#holder = undefined
    while (this.#holder === undefined && this.#next < this.#held.length) this.#held[this.#next++]!()
    if (this.#next === this.#held.length) {
      this.#held = []
      this.#next = 0
    }
  }

  #hold<T>(holder: Holder | undefined, op: Op, args: readonly unknown[], read?: ReplyReader<T>): Promise<T> {
    let message: Buffer
    try {
      // Encoded now: what the caller changes in its values while the write waits is not sent.
      message = encodeRequest(0, op, args)
    } catch (error) {
      return Promise.reject(error)
    }
    return new Promise<T>((resolve, reject) => {
      this.#held.push(() => {
        if (holder !== undefined) this.#holder = holder
        this.#sender.requestEncoded(op, message, read).then(resolve, reject)
      })
    })
  }
}
