// Decoded frames waiting to be handled, one queue per peer, worked through in time slices: a frame
// that takes long to handle is interleaved with other peers' frames instead of holding the loop, and
// a peer's own frames are still handled in the order it sent them.
import { performance } from 'node:perf_hooks'

export interface Batch {
  // The peer: its routing id, and that id as a string key.
  readonly key: string
  readonly routingId: Buffer
  readonly requests: readonly unknown[]
  // The frame's size, counted against its peer's queue while it waits.
  readonly bytes: number
  // Index of the next request to handle.
  next: number
  // Reply bytes its requests may still produce (lib/server/budget.ts).
  budget: number
}

interface Queue {
  batches: Batch[]
  bytes: number
}

export interface InboxOptions {
  // Handles one request of a batch; never throws.
  handle: (batch: Batch, request: unknown) => void
  // How long one peer's requests may run before others get their turn.
  sliceMs: number
  // Frame bytes a peer may have waiting; beyond it, its new frames are refused.
  maxQueuedBytes: number
}

export class Inbox {
  readonly #queues = new Map<string, Queue>()
  readonly #options: InboxOptions

  constructor(options: InboxOptions) {
    this.#options = options
  }

  // Whether some peer's requests still wait for a slice.
  get pending(): boolean {
    return this.#queues.size > 0
  }

  // Whether a peer (by its key) has requests waiting: it is being served, not silent.
  holds(key: string): boolean {
    return this.#queues.has(key)
  }

  // Handles a batch at once when its peer has nothing waiting (the usual case), within one slice,
  // and queues what is left. false: the peer already has too much waiting, nothing was taken.
  accept(batch: Batch): boolean {
    const queue = this.#queues.get(batch.key)
    if (queue !== undefined) {
      if (queue.bytes + batch.bytes > this.#options.maxQueuedBytes) return false
      queue.batches.push(batch)
      queue.bytes += batch.bytes
      return true
    }
    if (!this.#work(batch, performance.now() + this.#options.sliceMs))
      this.#queues.set(batch.key, { batches: [batch], bytes: batch.bytes })
    return true
  }

  // One round: waiting peers take turns until a slice's time is spent; a peer that still has work
  // goes to the back, so the next round starts with someone else.
  round(): void {
    const deadline = performance.now() + this.#options.sliceMs
    for (const key of [...this.#queues.keys()]) {
      const queue = this.#queues.get(key)!
      this.#queues.delete(key)
      while (queue.batches.length > 0 && this.#work(queue.batches[0]!, deadline))
        queue.bytes -= queue.batches.shift()!.bytes
      if (queue.batches.length > 0) this.#queues.set(key, queue)
      if (performance.now() >= deadline) return
    }
  }

  clear(): void {
    this.#queues.clear()
  }

  // Handles requests until the batch is done (true) or the deadline has passed (false).
  #work(batch: Batch, deadline: number): boolean {
    const { requests } = batch
    while (batch.next < requests.length) {
      this.#options.handle(batch, requests[batch.next++])
      if (batch.next < requests.length && performance.now() >= deadline) return false
    }
    return true
  }
}
