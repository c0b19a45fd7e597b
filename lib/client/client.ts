// connect() and the Client: owns the current Link, reconnects after a lost server, and feeds the
// Synchronizer that keeps the replica.
import { ErrorCode, TimeoutError, ZStateError, invalidArgument } from '../errors.ts'
import { deferred, type Deferred } from '../deferred.ts'
import { Op } from '../protocol/ops.ts'
import { checkConnectAddress } from '../protocol/address.ts'
import { Link, type LinkOptions } from './link.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { RefusedRequests } from './refused.ts'
import { StateView } from './state.ts'
import type { State } from './state-types.ts'
import { StatusEvents, type StatusEvent } from './status.ts'
import { Synchronizer } from './sync.ts'
import { ClientMessaging } from '../messaging/messaging.ts'
import type { Messaging } from '../messaging/types.ts'

export interface ConnectOptions {
  timeout?: number
  requestTimeout?: number
  heartbeatTimeout?: number
  name?: string
}

export interface ServerInfo {
  version: string
  protocol: number
  pid: number
  epoch: string
  revision: number
  clients: number
  uptime: number
  // Frames the server dropped because they carried no usable request id.
  droppedFrames: number
}

export interface Client<S extends object = Record<string, unknown>> extends AsyncDisposable, Messaging {
  readonly state: State<S>
  readonly address: string
  readonly closed: Promise<Error | undefined>
  close(): Promise<void>
  server(): Promise<ServerInfo>
  status(): AsyncIterable<StatusEvent>
  metrics(): Metrics
}

function timeoutOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0))
    throw invalidArgument(`connect: ${name} must be a positive number of ms, got ${String(value)}`)
  return value
}

export async function connect<S extends object = Record<string, unknown>>(
  address?: string,
  options: ConnectOptions = {},
): Promise<Client<S>> {
  const target = address ?? process.env.ZSTATE_ADDRESS
  if (target === undefined || target === '') {
    throw invalidArgument('connect: no address given and ZSTATE_ADDRESS is not set')
  }
  if (typeof target !== 'string')
    throw invalidArgument(`connect: address must be a string, got ${typeof target}`)
  checkConnectAddress(target)
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('connect: options must be an object')
  if (options.name !== undefined && typeof options.name !== 'string')
    throw invalidArgument('connect: name must be a string')
  const client = new ClientImpl<S>(target, {
    timeout: timeoutOption(options.timeout, 'timeout', 10_000),
    requestTimeout: timeoutOption(options.requestTimeout, 'requestTimeout', 30_000),
    heartbeatTimeout:
      options.heartbeatTimeout === undefined
        ? undefined
        : timeoutOption(options.heartbeatTimeout, 'heartbeatTimeout', 0),
    name: options.name,
  })
  await client.start()
  return client
}

interface Settings {
  timeout: number
  requestTimeout: number
  heartbeatTimeout: number | undefined
  name: string | undefined
}

// How long one reconnection attempt may take, and the pauses between attempts.
const RECONNECT_PAUSE_MS = [50, 100, 250, 500, 1000]

export class ClientImpl<S extends object> implements Client<S> {
  readonly address: string
  readonly state: State<S>
  readonly closed: Promise<Error | undefined>
  readonly sync: Synchronizer
  readonly #settings: Settings
  readonly #metrics = createMetrics()
  // Services and topics (lib/messaging): its methods are this client's.
  readonly #messaging: ClientMessaging = new ClientMessaging(this)
  readonly provide = this.#messaging.provide
  readonly call = this.#messaging.call
  readonly service = this.#messaging.service
  readonly services = this.#messaging.services
  readonly waitForService = this.#messaging.waitForService
  readonly publish = this.#messaging.publish
  readonly subscribe = this.#messaging.subscribe
  readonly #status = new StatusEvents()
  readonly #closedDeferred = deferred<Error | undefined>()
  readonly #refused: RefusedRequests
  readonly #stop = deferred<never>()
  #link: Link | undefined
  #linkReady: Deferred<Link> = deferred<Link>()
  #timer: NodeJS.Timeout | undefined
  #closing: Promise<void> | undefined
  #reconnecting = false

  constructor(address: string, settings: Settings) {
    this.address = address
    this.#settings = settings
    this.#refused = new RefusedRequests(settings.requestTimeout)
    this.sync = new Synchronizer(this.#metrics)
    this.sync.onResync = () => this.#status.emit('reset')
    this.state = new StateView(this, '') as unknown as State<S>
    this.closed = this.#closedDeferred.promise
    void this.#stop.promise.catch(() => {})
    void this.#linkReady.promise.catch(() => {})
  }

  async start(): Promise<void> {
    const { timeout } = this.#settings
    const timer = setTimeout(
      () =>
        this.#stop.reject(new TimeoutError(`connect: no answer from ${this.address} within ${timeout} ms`)),
      timeout,
    )
    try {
      const link = await Link.open(this.#linkOptions(), this.#stop.promise)
      await this.#adopt(link, false)
    } catch (error) {
      clearTimeout(timer)
      await this.close()
      throw error
    }
    clearTimeout(timer)
  }

  // Sends one request on the current link, waiting for a reconnection if there is none. If the
  // server refuses it unapplied (it forgot this client), it is sent again after the rejoin.
  request(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    if (this.#link !== undefined) return this.#link.channel.request(op, args, true)
    if (this.#closing !== undefined) return Promise.reject(closedError())
    return this.#requestLater(op, args)
  }

  // The current link, or the next one after a reconnection; rejects with ERR_CLOSED once closed.
  nextLink(): Promise<Link> {
    if (this.#link !== undefined) return Promise.resolve(this.#link)
    if (this.#closing !== undefined) return Promise.reject(closedError())
    return this.#linkReady.promise
  }

  async #requestLater(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    const { requestTimeout } = this.#settings
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`request timed out after ${requestTimeout} ms while reconnecting`)),
        requestTimeout,
      )
    })
    try {
      const link = await Promise.race([this.#linkReady.promise, expired])
      return await link.channel.request(op, args, true)
    } finally {
      clearTimeout(timer)
    }
  }

  async server(): Promise<ServerInfo> {
    const [version, protocol, pid, epoch, revision, clients, uptime, droppedFrames] = await this.request(
      Op.INFO,
      [],
    )
    return { version, protocol, pid, epoch, revision, clients, uptime, droppedFrames } as ServerInfo
  }

  status(): AsyncIterable<StatusEvent> {
    return this.#status.iterate()
  }

  metrics(): Metrics {
    return { ...this.#metrics }
  }

  // The live counters, for the parts of the client that count.
  get counters(): Metrics {
    return this.#metrics
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer)
    this.#stop.reject(closedError())
    this.#messaging.close()
    const link = this.#link
    this.#link = undefined
    if (link !== undefined) {
      // Say goodbye so the server forgets us now rather than after its session expiry.
      await Promise.race([
        link.channel.request(Op.BYE, []).catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ])
      link.close(closedError())
    }
    this.#refused.fail(closedError())
    this.#linkReady.reject(closedError())
    this.sync.detach()
    this.sync.failWaiters(closedError())
    this.sync.observers.close(closedError())
    this.#status.emit('closed')
    this.#closedDeferred.resolve(undefined)
  }

  #linkOptions(): LinkOptions {
    return {
      address: this.address,
      name: this.#settings.name,
      requestTimeout: this.#settings.requestTimeout,
      metrics: this.#metrics,
    }
  }

  // Makes a joined link current: first join (snapshot) or reconnection (history, or a snapshot for a new epoch).
  async #adopt(link: Link, reconnect: boolean): Promise<void> {
    const sync = this.sync
    const source = {
      history: (from: number, to: number) => link.history(from, to),
      snapshot: () => link.snapshot(),
      epochChanged: () => this.#lost(link, 'the server was replaced (new epoch)'),
    }
    const resyncsBefore = this.#metrics.resyncs
    let rebuilt = false
    if (!reconnect || link.hello.epoch !== sync.replica.epoch) {
      let snapshot
      try {
        snapshot = await Promise.race([link.snapshot(), this.#stop.promise])
      } catch (error) {
        link.close(new ZStateError(ErrorCode.DISCONNECTED, 'join abandoned', { cause: error }))
        throw error
      }
      sync.attach(source)
      sync.install(snapshot, reconnect)
      rebuilt = reconnect
    } else {
      sync.attach(source)
    }
    link.channel.onSessionLost = (refused) => {
      this.#refused.hold(refused)
      this.#lost(link, 'the server no longer knows this client')
    }
    link.feed.release({
      applied: (epoch, last) => epoch === sync.replica.epoch && last <= sync.replica.revision,
      commits: (epoch, commits) => sync.receive(epoch, commits),
      heartbeat: (epoch, revision) => sync.known(epoch, revision),
    })
    // What the last server refused unapplied goes first, before anything issued since.
    for (const request of this.#refused.take()) link.channel.resend(request)
    this.#link = link
    this.#messaging.attach(link)
    this.#linkReady.resolve(link)
    if (reconnect) {
      if (!rebuilt) await sync.reach(link.hello.revision).catch(() => {})
      if (rebuilt) this.#metrics.resyncs++
      // A resync during the catch-up has already said 'reset'.
      if (rebuilt) this.#status.emit('reset')
      else if (this.#metrics.resyncs === resyncsBefore) this.#status.emit('reconnected')
    }
    this.#watchHeartbeats(link)
  }

  #watchHeartbeats(link: Link): void {
    clearInterval(this.#timer)
    const period = link.hello.heartbeatMs
    const silence = this.#settings.heartbeatTimeout ?? period * 3
    const tick = Math.max(10, Math.floor(period / 2))
    let lastTick = Date.now()
    this.#timer = setInterval(() => {
      const now = Date.now()
      // A late tick means our own event loop was busy: silence measured across it proves nothing.
      if (now - lastTick > tick * 3) link.feed.lastHeard = Math.max(link.feed.lastHeard, now - tick)
      lastTick = now
      // Replies and pushes count too: a busy DEALER can starve the SUB loop of its turns.
      const heard = Math.max(link.feed.lastHeard, link.channel.lastHeard)
      if (now - heard > silence) return this.#lost(link, `no heartbeat for ${silence} ms`)
      if (now - link.channel.lastSent >= period) void link.channel.request(Op.PING, []).catch(() => {})
    }, tick)
    this.#timer.unref()
  }

  // The server is gone (or replaced): fail what is in flight, then rejoin in the background.
  #lost(link: Link, reason: string): void {
    if (this.#link !== link || this.#closing !== undefined) return
    clearInterval(this.#timer)
    this.#link = undefined
    this.#messaging.detach(link)
    this.#linkReady = deferred<Link>()
    void this.#linkReady.promise.catch(() => {})
    link.close(
      new ZStateError(
        ErrorCode.DISCONNECTED,
        `lost the server at ${this.address}: ${reason}; the outcome of requests in flight is unknown`,
      ),
    )
    this.sync.detach()
    this.#status.emit('disconnected')
    void this.#reconnect()
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return
    this.#reconnecting = true
    try {
      for (let attempt = 0; this.#closing === undefined; attempt++) {
        const giveUp = deferred<never>()
        void giveUp.promise.catch(() => {})
        const timer = setTimeout(
          () => giveUp.reject(new TimeoutError('reconnect attempt timed out')),
          Math.max(1000, this.#settings.heartbeatTimeout ?? 0),
        )
        try {
          const link = await Link.open(
            this.#linkOptions(),
            Promise.race([this.#stop.promise, giveUp.promise]),
          )
          await this.#adopt(link, true)
          return
        } catch {
          // not back yet
        } finally {
          clearTimeout(timer)
        }
        await new Promise((resolve) =>
          setTimeout(resolve, RECONNECT_PAUSE_MS[Math.min(attempt, RECONNECT_PAUSE_MS.length - 1)]),
        )
      }
    } finally {
      this.#reconnecting = false
    }
  }
}

function closedError(): ZStateError {
  return new ZStateError(ErrorCode.CLOSED, 'the client is closed')
}
