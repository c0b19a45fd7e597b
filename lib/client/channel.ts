// The request side of a client: one DEALER, requests packed per turn, replies matched by id.
import type { Dealer } from 'zeromq'
import { ErrorCode, TimeoutError, ZStateError, errorFromWire } from '../errors.ts'
import { arrayHeader, decode, encode } from '../protocol/codec.ts'
import { isRequestId } from '../protocol/frames.ts'
import { Status, type Op } from '../protocol/ops.ts'
import type { Metrics } from './metrics.ts'

interface Pending {
  resolve: (payload: unknown[]) => void
  reject: (error: unknown) => void
  deadline: number
}

export class Channel {
  readonly #dealer: Dealer
  readonly #metrics: Metrics
  readonly #timeout: number
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #queue: Buffer[] = []
  #sending = false
  #sweeper: NodeJS.Timeout | undefined
  #failure: ZStateError | undefined
  maxMessageBytes = 16 << 20
  lastSent = 0
  // Called when the server answers ERR_DISCONNECTED: it no longer knows this session.
  onSessionLost: () => void = () => {}

  constructor(dealer: Dealer, metrics: Metrics, timeout: number) {
    this.#dealer = dealer
    this.#metrics = metrics
    this.#timeout = timeout
    void this.#receiveLoop()
  }

  get inFlight(): number {
    return this.#pending.size
  }

  // Sends one request; resolves with the reply payload or rejects with the server's error.
  request(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const id = this.#nextId++
    const encoded = encode([id, op, ...args])
    if (encoded.length + 5 > this.maxMessageBytes) {
      return Promise.reject(
        new ZStateError(
          ErrorCode.TOO_LARGE,
          `request of ${encoded.length} bytes exceeds the server's maxMessageBytes (${this.maxMessageBytes})`,
        ),
      )
    }
    return new Promise<unknown[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: Date.now() + this.#timeout })
      this.#armSweeper()
      this.#queue.push(encoded)
      if (!this.#sending) void this.#sendLoop()
    })
  }

  // Every request in flight fails with `error`, and so does every later one.
  fail(error: ZStateError): void {
    this.#failure ??= error
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#queue = []
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const request of pending) request.reject(this.#failure)
  }

  // Packs everything queued while the previous send was in progress into as few messages as fit.
  async #sendLoop(): Promise<void> {
    this.#sending = true
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const message = this.#takeBatch()
        this.lastSent = Date.now()
        this.#metrics.messagesOut++
        this.#metrics.bytesOut += message.length
        await this.#dealer.send(message)
      }
    } catch (error) {
      if (this.#failure === undefined)
        this.fail(
          new ZStateError(ErrorCode.DISCONNECTED, `send failed: ${(error as Error).message}`, {
            cause: error,
          }),
        )
    } finally {
      this.#sending = false
    }
  }

  #takeBatch(): Buffer {
    const limit = this.maxMessageBytes - 5
    let count = 0
    let bytes = 0
    while (count < this.#queue.length && (count === 0 || bytes + this.#queue[count]!.length <= limit)) {
      bytes += this.#queue[count]!.length
      count++
    }
    const items = count === this.#queue.length ? this.#queue : this.#queue.slice(0, count)
    this.#queue = count === this.#queue.length ? [] : this.#queue.slice(count)
    const header = arrayHeader(items.length)
    return Buffer.concat([header, ...items], header.length + bytes)
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      let frames: Buffer[]
      try {
        frames = await this.#dealer.receive()
      } catch {
        return // socket closed
      }
      const frame = frames[0]
      if (frame === undefined) continue
      this.#metrics.messagesIn++
      this.#metrics.bytesIn += frame.length
      let replies: unknown
      try {
        replies = decode(frame)
      } catch {
        continue // a reply we cannot read; its request will time out
      }
      if (Array.isArray(replies)) for (const reply of replies) this.#settle(reply)
    }
  }

  #settle(reply: unknown): void {
    if (!Array.isArray(reply) || !isRequestId(reply[0])) return
    const request = this.#pending.get(reply[0])
    if (request === undefined) return
    this.#pending.delete(reply[0])
    if (reply[1] === Status.OK) return request.resolve(reply.slice(2))
    const error = errorFromWire(reply[2], reply[3], reply[4])
    request.reject(error)
    if (error.code === ErrorCode.DISCONNECTED) this.onSessionLost()
  }

  // One timer for all requests: they share one timeout, so the oldest expire first.
  #armSweeper(): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.min(250, this.#timeout / 4)))
    this.#sweeper.unref()
  }

  #sweep(): void {
    const now = Date.now()
    for (const [id, request] of this.#pending) {
      if (request.deadline > now) break
      this.#pending.delete(id)
      request.reject(
        new TimeoutError(`request timed out after ${this.#timeout} ms (no reply from the server)`),
      )
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }
}
