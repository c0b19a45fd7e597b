// Sends replies on the ROUTER without ever blocking the server loop: a peer that stops reading gets a
// bounded backlog, retried on a timer, and is forgotten when the backlog overflows. zeromq.js allows
// one pending send per socket, so tasks are worked through one send at a time, chained with callbacks
// rather than an async loop: the loop and its awaits were the largest part of the server's garbage
// per write of a partial session, which every write answers with a reply.
import type { Router } from 'zeromq'
import { toParts } from '../protocol/parts.ts'

export interface ReplyPeer {
  readonly routingId: Buffer
  backlog: Buffer[] | undefined
  backlogBytes: number
}

// A reply; a reply to a peer without a session (`once`); or a peer's backlog to send again.
type Task = { peer: ReplyPeer; data: Buffer; once?: true } | { peer: ReplyPeer; retry: true }

const RETRY_MS = 5

export class ReplySender {
  readonly #router: Router
  readonly #maxBacklogBytes: number
  readonly #forget: (peer: ReplyPeer, why: string) => void
  // Tasks from #head on are still to do; the one at #head is the one being sent while a send is in flight.
  #queue: (Task | undefined)[] = []
  #head = 0
  // Working through the queue or waiting for a send: what is pushed meanwhile only queues (a forgotten
  // peer's cleanup may reply to others from within).
  #busy = false
  // The bytes of the send in flight.
  #sending: Buffer | undefined
  #blocked = new Set<ReplyPeer>()
  #retryTimer: NodeJS.Timeout | undefined
  dropped = 0
  // Messages handed to zeromq and their bytes (STATS).
  sent = 0
  sentBytes = 0

  constructor(router: Router, maxBacklogBytes: number, forget: (peer: ReplyPeer, why: string) => void) {
    this.#router = router
    this.#maxBacklogBytes = maxBacklogBytes
    this.#forget = forget
  }

  send(peer: ReplyPeer, data: Buffer): void {
    if (peer.backlog !== undefined) return this.#enqueueBacklog(peer, data)
    this.#push({ peer, data })
  }

  // One reply to a peer without a session: tried once, dropped if its pipe is full, so a peer that
  // floods without reading cannot make the server hold anything for it.
  sendOnce(routingId: Buffer, data: Buffer): void {
    this.#push({ peer: { routingId, backlog: undefined, backlogBytes: 0 }, data, once: true })
  }

  // Drops a peer's pending replies (it was forgotten or said goodbye).
  discard(peer: ReplyPeer): void {
    this.#blocked.delete(peer)
    peer.backlog = undefined
    peer.backlogBytes = 0
  }

  close(): void {
    clearTimeout(this.#retryTimer)
    this.#queue = []
    this.#head = 0
    this.#blocked.clear()
  }

  #push(task: Task): void {
    this.#queue.push(task)
    if (!this.#busy) this.#work()
  }

  #enqueueBacklog(peer: ReplyPeer, data: Buffer): void {
    peer.backlog!.push(data)
    peer.backlogBytes += data.length
    if (peer.backlogBytes > this.#maxBacklogBytes) {
      this.dropped += peer.backlog!.length
      this.discard(peer)
      this.#forget(peer, 'stopped reading its replies')
    }
  }

  // Works through the queue until a send is in flight or nothing is left.
  #work(): void {
    this.#busy = true
    while (this.#head < this.#queue.length) {
      const task = this.#queue[this.#head]!
      const data = this.#nextData(task)
      if (data === undefined) {
        this.#queue[this.#head++] = undefined
        continue
      }
      this.#sending = data
      const once = 'once' in task
      let sending: Promise<void>
      try {
        sending = this.#router.send(
          once ? [task.peer.routingId, data] : [task.peer.routingId, ...toParts(data)],
        )
      } catch (error) {
        sending = Promise.reject(error)
      }
      sending.then(this.#sent, this.#failed)
      return
    }
    this.#queue = []
    this.#head = 0
    this.#sending = undefined
    this.#busy = false
  }

  // What `task` sends next; undefined once it is done. A reply to a peer that has a backlog by now
  // joins it, behind what is already there.
  #nextData(task: Task): Buffer | undefined {
    if (!('retry' in task)) {
      if (task.peer.backlog === undefined || 'once' in task) return task.data
      this.#enqueueBacklog(task.peer, task.data)
      return undefined
    }
    const backlog = task.peer.backlog
    if (backlog === undefined) return undefined
    if (backlog.length > 0) return backlog[0]
    task.peer.backlog = undefined
    this.#blocked.delete(task.peer)
    return undefined
  }

  readonly #sent = (): void => {
    const task = this.#queue[this.#head]
    const data = this.#sending!
    this.sent++
    this.sentBytes += data.length
    // A backlog goes on with its next message, unless the peer was discarded meanwhile.
    if (task !== undefined && 'retry' in task && task.peer.backlog?.[0] === data) {
      task.peer.backlog.shift()
      task.peer.backlogBytes -= data.length
    } else this.#queue[this.#head++] = undefined
    this.#work()
  }

  // EAGAIN: the peer's pipe is full; it gets a backlog (dropped, for a peer without a session). Any
  // other error: the peer is unroutable and forgotten.
  readonly #failed = (error: unknown): void => {
    const task = this.#queue[this.#head]
    const data = this.#sending!
    this.#queue[this.#head++] = undefined
    if (task !== undefined) {
      const code = (error as { code?: string }).code
      if (code !== 'EAGAIN') {
        this.dropped++
        this.discard(task.peer)
        this.#forget(task.peer, `unroutable (${code ?? String(error)})`)
      } else if ('once' in task) this.dropped++
      else if ('retry' in task) this.#armRetry()
      else this.#block(task.peer, data)
    }
    this.#work()
  }

  #block(peer: ReplyPeer, data: Buffer): void {
    peer.backlog = [data]
    peer.backlogBytes = data.length
    this.#blocked.add(peer)
    this.#armRetry()
  }

  #armRetry(): void {
    if (this.#retryTimer !== undefined) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      for (const peer of this.#blocked) this.#queue.push({ peer, retry: true })
      if (!this.#busy) this.#work()
    }, RETRY_MS)
    this.#retryTimer.unref()
  }
}
