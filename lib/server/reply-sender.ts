// Sends replies on the ROUTER without ever blocking the server loop: a peer that stops reading gets a
// bounded backlog, retried on a timer, and is forgotten when the backlog overflows. Sends go one at a
// time through the socket's SendQueue, as every socket's do.
import type { Router } from 'zeromq'
import { toParts } from '../protocol/parts.ts'
import { SendQueue } from '../send-queue.ts'

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
  readonly #sending = new SendQueue<Task>(
    (task) => this.#deliver(task),
    (error, task) => this.#failed(error, task),
    (task) => {
      if ('data' in task) this.#count(task.data)
    },
  )
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
    this.#sending.push({ peer, data })
  }

  // One reply to a peer without a session: tried once, dropped if its pipe is full, so a peer that
  // floods without reading cannot make the server hold anything for it.
  sendOnce(routingId: Buffer, data: Buffer): void {
    this.#sending.push({ peer: { routingId, backlog: undefined, backlogBytes: 0 }, data, once: true })
  }

  // Drops a peer's pending replies (it was forgotten or said goodbye).
  discard(peer: ReplyPeer): void {
    this.#blocked.delete(peer)
    peer.backlog = undefined
    peer.backlogBytes = 0
  }

  close(): void {
    clearTimeout(this.#retryTimer)
    this.#sending.clear()
    this.#blocked.clear()
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

  // Hands a task's message to zeromq; nothing for a reply to a peer that got a backlog since it was
  // queued: it joins the backlog, behind what is there. A peer without a session may speak an older
  // protocol: it gets one frame, never parts.
  #deliver(task: Task): Promise<void> | undefined {
    if ('retry' in task) return this.#resend(task.peer)
    if (task.once === true) return this.#router.send([task.peer.routingId, task.data])
    if (task.peer.backlog === undefined)
      return this.#router.send([task.peer.routingId, ...toParts(task.data)])
    this.#enqueueBacklog(task.peer, task.data)
    return undefined
  }

  // A blocked peer's backlog, in order, until it is empty, the peer is discarded, or a send fails
  // (EAGAIN: its pipe is full again).
  async #resend(peer: ReplyPeer): Promise<void> {
    const backlog = peer.backlog
    if (backlog === undefined) return
    while (backlog.length > 0) {
      const data = backlog[0]!
      await this.#router.send([peer.routingId, ...toParts(data)])
      this.#count(data)
      if (peer.backlog !== backlog) return
      backlog.shift()
      peer.backlogBytes -= data.length
    }
    peer.backlog = undefined
    this.#blocked.delete(peer)
  }

  #count(data: Buffer): void {
    this.sent++
    this.sentBytes += data.length
  }

  // EAGAIN: the peer's pipe is full; it gets a backlog (a backlog waits for the next retry; a reply to
  // a peer without a session is dropped). Any other error: the peer is unroutable and forgotten.
  #failed(error: unknown, task: Task): void {
    const code = (error as { code?: string }).code
    if (code !== 'EAGAIN') {
      this.dropped++
      this.discard(task.peer)
      this.#forget(task.peer, `unroutable (${code ?? String(error)})`)
    } else if ('retry' in task) this.#armRetry()
    else if (task.once === true) this.dropped++
    else this.#block(task.peer, task.data)
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
      for (const peer of this.#blocked) this.#sending.push({ peer, retry: true })
    }, RETRY_MS)
    this.#retryTimer.unref()
  }
}
