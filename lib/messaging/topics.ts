// Topics on the client: publish through the server, and one SUB socket per link on the server's topic
// PUB, shared by every subscription of this client. A subscription is ready once a token echoed on that
// PUB comes back (the slow-joiner proof link.ts uses for the state).
import { setMaxListeners } from 'node:events'
import type { Subscriber } from 'zeromq'
import { ErrorCode, ZStateError, invalidArgument, isZStateError } from '../errors.ts'
import { deferred } from '../deferred.ts'
import { awaitEcho } from '../link/echo.ts'
import type { Link } from '../link/link.ts'
import { receiveEach } from '../link/received.ts'
import { sockets } from '../link/sockets.ts'
import { connectSocket } from '../zmq.ts'
import { uniqueToken } from '../unique-token.ts'
import { decode } from '../protocol/codec.ts'
import { MAX_NAME_BYTES, checkName } from '../protocol/names.ts'
import { Op, TopicChannel } from '../protocol/ops.ts'
import { LONE_SURROGATE, adoptDecoded, describe } from '../protocol/values.ts'
import { encodable } from './calls.ts'
import type { MessagingHost } from './host.ts'
import { TopicSubscription } from './subscription.ts'
import type { RequestOptions, SubscribeOptions, Subscription, TopicMessage } from './types.ts'
import { QueuedIterator } from '../queued-iterator.ts'
import { checkWaitOptions } from '../wait.ts'
import { checkKnown } from '../known-options.ts'
import { fromParts } from '../protocol/parts.ts'

// A flood is read in slices of this many messages, so timers (heartbeats) and the state feed get turns.
const SLICE_MESSAGES = 256

// Beyond this many unconsumed messages a subscription drops new ones (topics are at most once anyway).
const MAX_UNCONSUMED = 10_000

// A subscription's messages as Topics holds them: weakly, so that a subscription dropped without
// return() is collected and unsubscribed then. Its messages, not the subscription: a pending next()
// keeps them reachable (see QueuedIterator), whoever still holds the subscription.
interface Held {
  readonly prefix: string
  messages?: WeakRef<QueuedIterator<TopicMessage<unknown>>>
}

export class Topics {
  readonly #host: MessagingHost
  readonly #subscriptions = new Set<Held>()
  #feed: TopicFeed | undefined
  #closed = false

  constructor(host: MessagingHost) {
    this.#host = host
  }

  async publish(topic: string, message: unknown, options?: RequestOptions): Promise<void> {
    checkName(topic, 'publish: topic')
    checkWaitOptions(options, 'publish')
    const payload = encodable(message, `publish '${topic}': message`, false)
    await this.#host.requestWithin(Op.PUBLISH, [topic, payload], options, `publish '${topic}'`)
  }

  subscribe<T>(prefix: string, options: SubscribeOptions = {}): Subscription<T> {
    if (typeof prefix !== 'string')
      throw invalidArgument(`subscribe: prefix must be a string, got ${describe(prefix)}`)
    if (Buffer.byteLength(prefix) > MAX_NAME_BYTES)
      throw invalidArgument(`subscribe: prefix is longer than ${MAX_NAME_BYTES} UTF-8 bytes`)
    // Topics are well-formed (names.ts): such a prefix could match none of them.
    if (!prefix.isWellFormed()) throw invalidArgument(`subscribe: prefix must not hold ${LONE_SURROGATE}`)
    if (typeof options !== 'object' || options === null)
      throw invalidArgument('subscribe: options must be an object')
    checkKnown(options, ['signal'], 'subscribe')
    const { signal } = options
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw invalidArgument('subscribe: signal must be an AbortSignal')
    const held: Held = { prefix }
    const remove = (): void => this.#remove(held)
    const messages = new QueuedIterator<TopicMessage<unknown>>({
      overflow: { policy: 'drop', limit: MAX_UNCONSUMED },
      signal,
      onEnd: remove,
    })
    const subscription = new TopicSubscription<unknown>(prefix, messages)
    if (this.#closed) subscription.end()
    else if (!messages.ended) {
      held.messages = messages.heldWeakly(remove)
      this.#subscriptions.add(held)
      this.#feed?.add(prefix)
    }
    subscription.ready = this.#prove(subscription)
    subscription.ready.catch(() => {})
    return subscription as Subscription<unknown> as Subscription<T>
  }

  // A new link: a new SUB on its topic PUB, subscribed to every prefix. Messages published while the
  // server was unreachable are lost (at most once).
  attach(link: Link): void {
    this.#feed?.close()
    this.#feed = this.#subscriptions.size > 0 ? this.#open(link) : undefined
  }

  detach(link: Link): void {
    if (this.#feed?.link !== link) return
    this.#feed.close()
    this.#feed = undefined
  }

  close(): void {
    this.#closed = true
    for (const held of [...this.#subscriptions]) held.messages?.deref()?.end()
    this.#feed?.close()
    this.#feed = undefined
  }

  #open(link: Link): TopicFeed {
    const feed = new TopicFeed(link, (topic, message) => {
      for (const held of this.#subscriptions)
        if (topic.startsWith(held.prefix)) held.messages?.deref()?.push({ topic, message })
    })
    for (const held of this.#subscriptions) feed.add(held.prefix)
    return feed
  }

  #remove(held: Held): void {
    if (!this.#subscriptions.delete(held)) return
    this.#feed?.remove(held.prefix)
  }

  // Resolves once the subscription provably reaches the server's topic PUB, on whichever link is current.
  async #prove(subscription: TopicSubscription<unknown>): Promise<void> {
    for (;;) {
      if (subscription.ended) throw subscription.endReason
      const link = await this.#host.nextLink()
      if (subscription.ended) throw subscription.endReason
      if (this.#feed?.link !== link) {
        this.#feed?.close()
        this.#feed = this.#open(link)
      }
      try {
        await this.#feed.prove(() => subscription.ended)
        if (subscription.ended) throw subscription.endReason
        return
      } catch (error) {
        // The link was lost while proving: prove again on the next one.
        if (!isZStateError(error) || error.code !== ErrorCode.DISCONNECTED) throw error
      }
    }
  }
}

// One SUB socket on one server's topic PUB, and its owner loop.
class TopicFeed {
  readonly link: Link
  readonly #sub: Subscriber
  readonly #deliver: (topic: string, message: unknown) => void
  readonly #echoes = new Map<string, () => void>()
  // Aborted by close(): ends a proof in progress.
  readonly #life = new AbortController()

  constructor(link: Link, deliver: (topic: string, message: unknown) => void) {
    this.#sub = new sockets.Subscriber(link.socketOptions)
    // Each proof in progress listens to it: many subscribe() calls at once are no leak.
    setMaxListeners(0, this.#life.signal)
    this.link = link
    this.#deliver = deliver
    connectSocket(this.#sub, link.hello.topicEndpoint)
    void this.#loop()
  }

  add(prefix: string): void {
    if (!this.#life.signal.aborted) this.#sub.subscribe(TopicChannel.MESSAGE + prefix)
  }

  remove(prefix: string): void {
    if (!this.#life.signal.aborted) this.#sub.unsubscribe(TopicChannel.MESSAGE + prefix)
  }

  // Subscriptions reach the PUB in order: once our echo token comes back, every earlier one is live.
  async prove(gaveUp: () => boolean): Promise<void> {
    const token = uniqueToken()
    const echoed = deferred<void>()
    this.#echoes.set(token, echoed.resolve)
    this.#sub.subscribe(TopicChannel.ECHO + token)
    try {
      const request = (): Promise<unknown> => this.link.channel.request(Op.TOPIC_ECHO, [token])
      await awaitEcho(request, echoed.promise, this.#life.signal, gaveUp)
    } finally {
      this.#echoes.delete(token)
      if (!this.#life.signal.aborted) this.#sub.unsubscribe(TopicChannel.ECHO + token)
    }
  }

  close(): void {
    if (this.#life.signal.aborted) return
    this.#life.abort(new ZStateError(ErrorCode.DISCONNECTED, 'the topic feed closed'))
    this.#sub.close()
  }

  #loop(): Promise<void> {
    let n = 0
    return receiveEach(this.#sub, (frames) => {
      const head = frames[0]
      const payload = fromParts(frames, 1)
      if (head !== undefined && payload !== undefined) this.#dispatch(head.toString('utf8'), payload)
      if (++n % SLICE_MESSAGES === 0) return new Promise((resolve) => setImmediate(resolve))
    })
  }

  #dispatch(channel: string, payload: Buffer): void {
    if (channel.startsWith(TopicChannel.MESSAGE)) {
      let message: unknown
      try {
        message = adoptDecoded(decode(payload))
      } catch (error) {
        process.emitWarning(`zstate: ignored a malformed topic message: ${(error as Error).message}`)
        return
      }
      this.#deliver(channel.slice(TopicChannel.MESSAGE.length), message)
    } else if (channel.startsWith(TopicChannel.ECHO)) {
      this.#echoes.get(channel.slice(TopicChannel.ECHO.length))?.()
    }
  }
}
