// Sends replies on the ROUTER without ever blocking the server loop: a peer that stops reading gets a
// bounded backlog, retried on a timer, and is forgotten when the backlog overflows.
import type { Router } from 'zeromq'
import { toParts } from '../protocol/parts.ts'

export interface ReplyPeer {
  readonly routingId: Buffer
  backlog: Buffer[] | undefined
  backlogBytes: number
}

type Task = { peer: ReplyPeer; data: Buffer; once?: true } | { peer: ReplyPeer; retry: true }

const RETRY_MS = 5

export class ReplySender {
  readonly #router: Router
  readonly #maxBacklogBytes: number
  readonly #forget: (peer: ReplyPeer, why: string) => void
  #queue: Task[] = []
  #running = false
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
    this.#queue.push({ peer, data })
    if (!this.#running) void this.#run()
  }

  // One reply to a peer without a session: tried once, dropped if its pipe is full, so a peer that
  // floods without reading cannot make the server hold anything for it.
  sendOnce(routingId: Buffer, data: Buffer): void {
    this.#queue.push({ peer: { routingId, backlog: undefined, backlogBytes: 0 }, data, once: true })
    if (!this.#running) void this.#run()
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

  async #run(): Promise<void> {
    this.#running = true
    while (this.#queue.length > 0) {
      const tasks = this.#queue
      this.#queue = []
      for (const task of tasks) {
        if ('retry' in task) await this.#retry(task.peer)
        else if (task.peer.backlog !== undefined) this.#enqueueBacklog(task.peer, task.data)
        else if (await this.#trySend(task.peer, task.data, task.once === true)) continue
        else if (task.once === true) this.dropped++
        else this.#block(task.peer, task.data)
      }
    }
    this.#running = false
  }

  // true: handed to zeromq; false: the peer's pipe is full (EAGAIN). Unroutable peers are forgotten.
  // A peer without a session may speak an older protocol: it gets one frame, never parts.
  async #trySend(peer: ReplyPeer, data: Buffer, once = false): Promise<boolean> {
    try {
      await this.#router.send(once ? [peer.routingId, data] : [peer.routingId, ...toParts(data)])
      this.sent++
      this.sentBytes += data.length
      return true
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'EAGAIN') return false
      this.dropped++
      this.discard(peer)
      this.#forget(peer, `unroutable (${code ?? String(error)})`)
      return true
    }
  }

  #block(peer: ReplyPeer, data: Buffer): void {
    peer.backlog = [data]
    peer.backlogBytes = data.length
    this.#blocked.add(peer)
    this.#armRetry()
  }

  async #retry(peer: ReplyPeer): Promise<void> {
    const backlog = peer.backlog
    if (backlog === undefined) return
    while (backlog.length > 0) {
      const data = backlog[0]!
      if (!(await this.#trySend(peer, data))) return this.#armRetry()
      if (peer.backlog !== backlog) return
      backlog.shift()
      peer.backlogBytes -= data.length
    }
    peer.backlog = undefined
    this.#blocked.delete(peer)
  }

  #armRetry(): void {
    if (this.#retryTimer !== undefined) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      for (const peer of this.#blocked) this.#queue.push({ peer, retry: true })
      if (!this.#running && this.#queue.length > 0) void this.#run()
    }, RETRY_MS)
    this.#retryTimer.unref()
  }
}
