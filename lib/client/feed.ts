// The change stream of one connection: a SUB socket and its owner loop. Until released it only
// buffers, so commits published while the client joins are not lost.
import { deferred } from '../deferred.ts'
import { decode } from '../protocol/codec.ts'
import { peekCommitRange } from '../protocol/frames.ts'
import { Channel as PubChannel, type WireCommit } from '../protocol/ops.ts'
import { readCommits } from './commits.ts'
import type { Metrics } from './metrics.ts'
import { sockets } from './sockets.ts'

export interface FeedHandlers {
  // Whether every commit from `first` to `last` is already applied: then the message is not decoded.
  applied(epoch: string, last: number): boolean
  commits(epoch: string, commits: WireCommit[]): void
  heartbeat(epoch: string, revision: number): void
}

export class Feed {
  readonly #sub = new sockets.Subscriber({ linger: 0, ipv6: true })
  readonly #metrics: Metrics
  readonly #echoTopic: string
  #handlers: FeedHandlers | undefined
  #buffered: [string, WireCommit[]][] = []
  readonly #echo = deferred<void>()
  lastHeard = Date.now()

  constructor(endpoint: string, token: string, metrics: Metrics) {
    this.#metrics = metrics
    this.#echoTopic = PubChannel.ECHO + token
    this.#sub.subscribe(PubChannel.STATE, PubChannel.HEARTBEAT, this.#echoTopic)
    this.#sub.connect(endpoint)
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

  async #loop(): Promise<void> {
    for (;;) {
      let frames: Buffer[]
      try {
        frames = await this.#sub.receive()
      } catch {
        return // closed
      }
      this.lastHeard = Date.now()
      const [topic, payload] = frames
      if (topic === undefined || payload === undefined) continue
      this.#metrics.messagesIn++
      this.#metrics.bytesIn += payload.length
      try {
        this.#dispatch(topic.toString('latin1'), payload)
      } catch (error) {
        process.emitWarning(`zstate: ignored a malformed published message: ${(error as Error).message}`)
      }
    }
  }

  #dispatch(topic: string, payload: Buffer): void {
    if (topic === PubChannel.STATE) {
      const range = this.#handlers === undefined ? undefined : peekCommitRange(payload)
      if (range !== undefined && this.#handlers!.applied(range.epoch, range.first + range.count - 1)) return
      const message = decode(payload) as [unknown, unknown]
      const epoch = String(message[0])
      const commits = readCommits(message[1])
      if (this.#handlers === undefined) this.#buffered.push([epoch, commits])
      else this.#handlers.commits(epoch, commits)
    } else if (topic === PubChannel.HEARTBEAT) {
      const [epoch, revision] = decode(payload) as [unknown, unknown]
      if (typeof revision === 'number') this.#handlers?.heartbeat(String(epoch), revision)
    } else if (topic === this.#echoTopic) {
      this.#echo.resolve()
    }
  }
}
