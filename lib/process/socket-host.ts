// In the parent thread: the real sockets behind a thread child's proxies (thread-sockets.ts), one per
// proxy, made with the options the proxy was given (the link's CURVE keys among them) and closed when
// the thread ends however it ends.
import type { MessagePort } from 'node:worker_threads'
import type { Dealer, Subscriber } from 'zeromq'
import type { socketOptions } from '../link/handshake.ts'
import { sockets } from '../link/sockets.ts'
import { connectSocket, maxSockets, sendOrWait } from '../zmq.ts'
import { SendQueue } from '../send-queue.ts'
import { byteLength } from './thread-sockets.ts'

// What the thread's client built the socket with (link/handshake.ts): its CURVE keys included.
export type SocketOptions = ReturnType<typeof socketOptions>

export type HostRequest =
  | { readonly op: 'open'; readonly kind: 'dealer' | 'sub'; readonly options: SocketOptions }
  // Forward the socket's handshake failures (its client watches them: link/handshake.ts).
  | { readonly op: 'watch' }
  | { readonly op: 'connect'; readonly endpoint: string }
  | { readonly op: 'subscribe' | 'unsubscribe'; readonly topics: string[] }
  | { readonly op: 'send'; readonly frames: Uint8Array[] }
  | { readonly op: 'ack'; readonly count: number; readonly bytes: number }
  | { readonly op: 'close' }
export type ToHost = { readonly id: number } & HostRequest
export type ToProxy =
  { readonly id: number; readonly frames: Uint8Array[] } | { readonly id: number; readonly event: string }

// Published messages a busy thread has not taken yet, beyond which more are dropped, as a SUB socket
// at its high-water mark would (the client repairs the gap). Replies are never dropped.
const MAX_UNTAKEN = 10_000
// And their bytes: 10,000 commits of large values would otherwise hold gigabytes for a blocked thread.
const MAX_UNTAKEN_BYTES = 64 << 20

interface Hosted {
  readonly socket: Dealer | Subscriber
  readonly sends: SendQueue
  readonly kind: 'dealer' | 'sub'
  untaken: number
  untakenBytes: number
}

export class SocketHost {
  readonly #port: MessagePort
  readonly #hosted = new Map<number, Hosted>()
  readonly #failed: (reason: string) => void
  #closed = false

  // `failed` ends the thread: a socket that cannot be opened (or connected) fails its child, never
  // this process (this runs in a MessagePort listener, where a throw is uncaught).
  constructor(port: MessagePort, failed: (reason: string) => void) {
    this.#port = port
    this.#failed = failed
    port.on('message', (message: ToHost) => {
      try {
        this.#handle(message)
      } catch (error) {
        this.#failed(hostError(message, error))
      }
    })
  }

  close(): void {
    this.#closed = true
    for (const hosted of this.#hosted.values()) hosted.socket.close()
    this.#hosted.clear()
    this.#port.close()
  }

  #handle(message: ToHost): void {
    if (this.#closed) return
    if (message.op === 'open') return this.#open(message.id, message.kind, message.options)
    const hosted = this.#hosted.get(message.id)
    if (hosted === undefined) return
    switch (message.op) {
      case 'connect':
        return connectSocket(hosted.socket, message.endpoint)
      case 'subscribe':
        return (hosted.socket as Subscriber).subscribe(...message.topics)
      case 'unsubscribe':
        return (hosted.socket as Subscriber).unsubscribe(...message.topics)
      case 'send':
        return hosted.sends.push(
          message.frames.map((frame) => Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)),
        )
      case 'watch':
        // Read here: opening the monitor's sockets can fail as opening a socket can.
        return void this.#watch(message.id, hosted.socket.events)
      case 'ack':
        hosted.untaken = Math.max(0, hosted.untaken - message.count)
        hosted.untakenBytes = Math.max(0, hosted.untakenBytes - message.bytes)
        return
      case 'close':
        this.#hosted.delete(message.id)
        hosted.socket.close()
    }
  }

  #open(id: number, kind: 'dealer' | 'sub', options: SocketOptions): void {
    const socket = kind === 'dealer' ? new sockets.Dealer(options) : new sockets.Subscriber(options)
    // A failed send is a lost request or a dropped frame: the thread's client times out or repairs it.
    const sends = new SendQueue(
      (frames) => sendOrWait(socket as Dealer, frames),
      () => {},
    )
    const hosted: Hosted = { socket, sends, kind, untaken: 0, untakenBytes: 0 }
    this.#hosted.set(id, hosted)
    void this.#forward(id, hosted)
  }

  async #watch(id: number, events: Hosted['socket']['events']): Promise<void> {
    try {
      for await (const event of events) {
        if (!event.type.startsWith('handshake:error')) continue
        this.#port.postMessage({ id, event: event.type } satisfies ToProxy)
      }
    } catch {
      // closed, or the thread is gone
    }
  }

  async #forward(id: number, hosted: Hosted): Promise<void> {
    for (;;) {
      let frames: Buffer[]
      try {
        frames = await hosted.socket.receive()
      } catch {
        return // closed
      }
      if (
        hosted.kind === 'sub' &&
        (hosted.untaken >= MAX_UNTAKEN || hosted.untakenBytes >= MAX_UNTAKEN_BYTES)
      )
        continue
      hosted.untaken++
      hosted.untakenBytes += byteLength(frames)
      try {
        this.#port.postMessage({ id, frames } satisfies ToProxy)
      } catch {
        return // the thread is gone
      }
    }
  }
}

// Why the thread's request failed; EMFILE is the socket limit (or the fd limit) reached.
function hostError(request: ToHost, error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown }
  const what =
    request.op === 'open'
      ? `open a ${request.kind} socket`
      : request.op === 'watch'
        ? "watch a socket's handshakes"
        : `${request.op} a socket`
  const why = `${typeof message === 'string' ? message : String(error)}${
    code === 'EMFILE'
      ? ` (this process's ZeroMQ context takes at most ${maxSockets()} sockets, ZMQ_MAX_SOCKETS: a quarter of its fd limit, ulimit -n)`
      : ''
  }`
  return `zstate could not ${what} for it in its parent: ${why}`
}
