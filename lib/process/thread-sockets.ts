// In a worker thread zstate spawned: Dealer and Subscriber look-alikes whose real sockets live in the
// parent thread (socket-host.ts). The thread can then be terminated at any moment, even in a CPU
// loop, without zeromq.js aborting the process (zeromq.js#411).
import type { MessagePort } from 'node:worker_threads'
import type { Dealer, Subscriber } from 'zeromq'
import type { SocketClasses } from '../link/sockets.ts'
import type { HostRequest, SocketOptions, ToProxy } from './socket-host.ts'

type Frames = Buffer[]
type Outgoing = Buffer | string | Uint8Array | (Buffer | string | Uint8Array)[]

// Messages, or bytes, taken before the thread tells the host, so the host can bound what it buffers
// for us.
const ACK_EVERY = 256
const ACK_BYTES = 1 << 20

export function proxySockets(port: MessagePort): SocketClasses {
  const open = new Map<number, ProxySocket>()
  let nextId = 1
  port.on('message', (message: ToProxy) => {
    const socket = open.get(message.id)
    if ('frames' in message) socket?.deliver(message.frames)
    else socket?.event(message.event)
  })
  port.unref()

  class ProxySocket {
    readonly #id = nextId++
    readonly #queue: Frames[] = []
    #waiting: { resolve: (frames: Frames) => void; reject: (error: Error) => void } | undefined
    // Taken since the last ack.
    #taken = 0
    #takenBytes = 0
    #closed = false
    #events: AsyncGenerator<{ type: string }> | undefined
    readonly #pendingEvents: string[] = []
    #wakeEvents: (() => void) | undefined

    // The host makes the real socket with these: the link's CURVE keys reach it only this way.
    constructor(kind: 'dealer' | 'sub', options: Partial<SocketOptions> = {}) {
      open.set(this.#id, this)
      this.post({ op: 'open', kind, options: { linger: 0, ipv6: true, ...options } })
    }

    // Handshake failures of the real socket, as zeromq's `socket.events` gives them (the rest are
    // not forwarded); ends when the socket closes.
    get events(): AsyncGenerator<{ type: string }> {
      if (this.#events === undefined) {
        this.post({ op: 'watch' })
        this.#events = this.#eventStream()
      }
      return this.#events
    }

    get closed(): boolean {
      return this.#closed
    }

    connect(endpoint: string): void {
      this.post({ op: 'connect', endpoint })
    }

    // Queued at once, like zeromq's own send (which resolves when queued, not when delivered).
    send(message: Outgoing): Promise<void> {
      if (this.#closed) return Promise.reject(closedError())
      const parts = Array.isArray(message) ? message : [message]
      this.post({
        op: 'send',
        frames: parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)),
      })
      return Promise.resolve()
    }

    receive(): Promise<Frames> {
      if (this.#closed) return Promise.reject(closedError())
      const frames = this.#queue.shift()
      if (frames !== undefined) return Promise.resolve(this.#took(frames))
      return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }))
    }

    close(): void {
      if (this.#closed) return
      this.#closed = true
      open.delete(this.#id)
      this.post({ op: 'close' })
      this.#waiting?.reject(closedError())
      this.#waiting = undefined
      this.#wakeEvents?.()
    }

    event(type: string): void {
      this.#pendingEvents.push(type)
      this.#wakeEvents?.()
    }

    async *#eventStream(): AsyncGenerator<{ type: string }> {
      while (!this.#closed) {
        const type = this.#pendingEvents.shift()
        if (type !== undefined) yield { type }
        else await new Promise<void>((resolve) => (this.#wakeEvents = resolve))
      }
    }

    deliver(raw: Uint8Array[]): void {
      const frames = raw.map((frame) => Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength))
      const waiting = this.#waiting
      this.#waiting = undefined
      if (waiting !== undefined) waiting.resolve(this.#took(frames))
      else this.#queue.push(frames)
    }

    protected post(message: HostRequest): void {
      port.postMessage({ ...message, id: this.#id })
    }

    #took(frames: Frames): Frames {
      this.#taken++
      this.#takenBytes += byteLength(frames)
      if (this.#taken >= ACK_EVERY || this.#takenBytes >= ACK_BYTES) {
        this.post({ op: 'ack', count: this.#taken, bytes: this.#takenBytes })
        this.#taken = 0
        this.#takenBytes = 0
      }
      return frames
    }
  }

  class ProxyDealer extends ProxySocket {
    constructor(options?: Partial<SocketOptions>) {
      super('dealer', options)
    }
  }

  class ProxySubscriber extends ProxySocket {
    constructor(options?: Partial<SocketOptions>) {
      super('sub', options)
    }
    subscribe(...topics: string[]): void {
      this.post({ op: 'subscribe', topics })
    }
    unsubscribe(...topics: string[]): void {
      this.post({ op: 'unsubscribe', topics })
    }
  }

  return {
    Dealer: ProxyDealer as unknown as typeof Dealer,
    Subscriber: ProxySubscriber as unknown as typeof Subscriber,
  }
}

function closedError(): Error {
  return Object.assign(new Error('Socket is closed'), { code: 'EBADF' })
}

// The bytes of a message's frames: what the host and the thread count of what it holds for the thread.
export function byteLength(frames: readonly Uint8Array[]): number {
  let bytes = 0
  for (const frame of frames) bytes += frame.byteLength
  return bytes
}
