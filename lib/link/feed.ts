// The change stream of one connection: a SUB socket and its owner loop. Until released it only
// buffers, so commits published while the client joins are not lost.
import { deferred } from '../deferred.ts'
import { decode } from '../protocol/codec.ts'
import { Channel as PubChannel, type WireCommit } from '../protocol/ops.ts'
import { fromParts } from '../protocol/parts.ts'
import { receiveEach } from './received.ts'
import { readCommitPage, readPosition } from './replies.ts'
import type { Subscriber } from 'zeromq'
import type { socketOptions } from './handshake.ts'
import { sockets } from './sockets.ts'
import { connectSocket } from '../zmq.ts'
import type { Traffic } from './traffic.ts'

export interface FeedHandlers {
  commits(epoch: string, commits: WireCommit[]): void
  heartbeat(epoch: string, revision: number): void
}

export class Feed {
  readonly #sub: Subscriber
  readonly #traffic: Traffic
  readonly #echoTopic: string
  #handlers: FeedHandlers | undefined
  #buffered: [string, WireCommit[]][] = []
  readonly #echo = deferred<void>()
  lastHeard = Date.now()

  constructor(endpoint: string, token: string, traffic: Traffic, options: ReturnType<typeof socketOptions>) {
    this.#sub = new sockets.Subscriber(options)
    this.#traffic = traffic
    this.#echoTopic = PubChannel.ECHO + token
    this.#sub.subscribe(PubChannel.STATE, PubChannel.HEARTBEAT, this.#echoTopic)
    connectSocket(this.#sub, endpoint)
    void this.#loop()
  }

  // Resolves when our echo token comes back: the subscription is then provably live.
  get echoed(): Promise<void> {
    return this.#echo.promise
  }

  // Starts delivering, beginning with everything buffered so far.
  release(handlers: FeedHandlers): void {
    this.#handlers = handlers
    const buffered = this.#buffered
    this.#buffered = []
    for (const [epoch, commits] of buffered) handlers.commits(epoch, commits)
  }

  close(): void {
    this.#handlers = undefined
    this.#sub.close()
  }

  #loop(): Promise<void> {
    return receiveEach(this.#sub, (frames) => {
      this.lastHeard = Date.now()
      const topic = frames[0]
      const payload = fromParts(frames, 1)
      if (topic === undefined || payload === undefined) return
      this.#traffic.messagesIn++
      this.#traffic.bytesIn += payload.length
      try {
        this.#dispatch(topic.toString('latin1'), payload)
      } catch (error) {
        process.emitWarning(`zstate: ignored a malformed published message: ${(error as Error).message}`)
      }
    })
  }

  #dispatch(topic: string, payload: Buffer): void {
    if (topic === PubChannel.STATE) {
      const { epoch, commits } = readCommitPage(decode(payload), 'published commit')
      if (this.#handlers === undefined) this.#buffered.push([epoch, commits])
      else this.#handlers.commits(epoch, commits)
    } else if (topic === PubChannel.HEARTBEAT) {
      const { epoch, revision } = readPosition(decode(payload), 'heartbeat')
      this.#handlers?.heartbeat(epoch, revision)
    } else if (topic === this.#echoTopic) {
      this.#echo.resolve()
    }
  }
}
