// A client's connection to its server: the current Link, requests routed to it (or held until there is
// one), and a new Link after a lost server. The replica (a Follower) joins each link before it becomes
// current; the other users (messaging) are told as links come and go.
import { abortable, timeoutToError } from '../abort.ts'
import { timeoutSignal } from '../timer-limit.ts'
import { boundedRequest, unbounded, type WaitOptions } from '../wait.ts'
import { ErrorCode, ZStateError } from '../errors.ts'
import { Op } from '../protocol/ops.ts'
import type { ReplyReader } from './channel.ts'
import { CurrentLink } from './current.ts'
import { watchHeartbeats } from './heartbeat.ts'
import { JoinVerdicts } from './join-verdicts.ts'
import { Link, type LinkOptions } from './link.ts'
import { debug } from '../debug.ts'
import { reconnect } from './reconnect.ts'
import { RefusedRequests } from './refused.ts'
import type { Traffic } from './traffic.ts'
import type { CurveCredentials } from './handshake.ts'

export interface ConnectionSettings {
  // The server's address, or several gateways to one state (docs/scale-out.md), tried in turn.
  addresses: readonly string[]
  name: string | undefined
  // ms for the first join.
  timeout: number
  requestTimeout: number
  // ms of silence after which the server counts as lost; undefined: 3 × its heartbeat period.
  heartbeatTimeout: number | undefined
  traffic: Traffic
  // Key prefixes of a partial replica, sent again in every HELLO; undefined: everything.
  replicate: readonly string[] | undefined
  // CURVE keys for every socket; undefined: none.
  curve: CurveCredentials | undefined
  // The token of the context child this client runs in (lib/link/link.ts); undefined: none.
  childToken?: string | undefined
}

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed'

// Servers that ask the client to move (Push.MOVE) one after another within this long count as one
// series: once every address has asked, the client stays.
const MOVES_WINDOW_MS = 10_000

// What the connection reports of itself; a replica rebuilt from a snapshot ('reset') is the Follower's to say.
export type ConnectionEvent = 'disconnected' | 'reconnected' | 'closed'

// What keeps a replica over the connection (lib/client).
export interface Follower {
  // Readies the replica for `link` before it becomes current; a rejection abandons the link.
  join(link: Link, rejoin: boolean, signal: AbortSignal): Promise<void>
  // After a rejoin, with `link` current: catches up with the server. False when the replica was
  // rebuilt instead, or the catch-up was cut short by `signal`.
  resume(link: Link, signal: AbortSignal): Promise<boolean>
  // The current link was lost.
  lost(): void
  close(error: ZStateError): void
}

// Whoever else works on the current link (messaging).
export interface LinkUser {
  attach(link: Link): void
  detach(link: Link): void
  close(): void
}

export class Connection {
  readonly #settings: ConnectionSettings
  // Where the next link goes: addresses[#next % addresses.length]; the current one is the one before.
  #next = 0
  readonly #follower: Follower
  readonly #users: LinkUser[] = []
  readonly #onEvent: (event: ConnectionEvent) => void
  // Aborted by close(): ends a join, the reconnection loop and the current link's watches.
  readonly #life = new AbortController()
  readonly #refused: RefusedRequests
  readonly #current: CurrentLink
  // Aborted when the current link is lost: stops its heartbeat check and its catch-up.
  #linkLife = new AbortController()
  #joined = false
  #reconnecting = false
  // Moves asked for by servers in a row (see #move), and when the last one was.
  #moves = 0
  #lastMove = 0
  #closing: Promise<void> | undefined

  constructor(settings: ConnectionSettings, follower: Follower, onEvent: (event: ConnectionEvent) => void) {
    this.#settings = settings
    this.#follower = follower
    this.#onEvent = onEvent
    this.#current = new CurrentLink(settings.requestTimeout)
    this.#refused = new RefusedRequests(settings.requestTimeout, this.refusal)
  }

  // Why the server the client tries to rejoin refuses it, for the timeouts of requests that wait
  // for it (lib/wait.ts); undefined while connected or not refused.
  readonly refusal = (): ZStateError | undefined => this.#current.refusal

  // Aborted, with ERR_CLOSED, as close() starts.
  get closing(): AbortSignal {
    return this.#life.signal
  }

  // The address of the server in use (or last tried).
  get address(): string {
    const { addresses } = this.#settings
    return addresses[(this.#next + addresses.length - 1) % addresses.length]!
  }

  use(user: LinkUser): void {
    this.#users.push(user)
  }

  get status(): ConnectionStatus {
    if (this.#closing !== undefined) return 'closed'
    if (this.#current.link !== undefined) return 'connected'
    return this.#joined ? 'reconnecting' : 'connecting'
  }

  // The first join. Rejects with ERR_TIMEOUT after the join timeout, or with signal.reason, unchanged;
  // after a failed join the caller closes the connection. Several addresses are tried in turn.
  async open(signal?: AbortSignal): Promise<void> {
    const { timeout, addresses } = this.#settings
    const expiry = timeoutSignal(timeout)
    const sources = expiry === undefined ? [this.#life.signal] : [this.#life.signal, expiry]
    const join = AbortSignal.any(signal === undefined ? sources : [...sources, signal])
    const verdicts = new JoinVerdicts(addresses)
    const openAndAdopt = async (attempt: AbortSignal): Promise<void> => {
      verdicts.attempting()
      const link = await Link.open(this.#linkOptions(), attempt)
      verdicts.answered(this.address)
      await this.#adopt(link, false, join)
    }
    const unlessFinal = (error: unknown): boolean => {
      if (join.aborted) throw join.reason
      return verdicts.failed(this.address, error)
    }
    try {
      await reconnect(openAndAdopt, this.#attemptMs(), join, unlessFinal)
    } catch (error) {
      throw timeoutToError(error, expiry, verdicts.timedOut(timeout))
    }
  }

  // Sends one request on the current link, waiting for a reconnection if there is none. If the
  // server refuses it unapplied (it forgot this client), it is sent again after the rejoin.
  request<T = unknown[]>(op: Op, args: readonly unknown[], read?: ReplyReader<T>): Promise<T> {
    return this.#current.request(op, args, read)
  }

  // request() bounded by the caller's timeout and signal: given up on while it waits for a
  // reconnection, it is never sent (the next server would act on what its caller no longer wants).
  requestWithin(
    op: Op,
    args: readonly unknown[],
    options: WaitOptions | undefined,
    what: string,
  ): Promise<unknown[]> {
    // Unbounded (the usual publish), no closure: the request as any other.
    if (unbounded(options)) return this.#current.request(op, args)
    return boundedRequest(
      (giveUp) => this.#current.request(op, args, undefined, giveUp),
      options,
      what,
      this.refusal,
    )
  }

  // request() of a message encodeRequest() made beforehand.
  requestEncoded<T = unknown[]>(op: Op, message: Buffer, read?: ReplyReader<T>): Promise<T> {
    return this.#current.requestEncoded(op, message, read)
  }

  // The current link, or the next one after a reconnection; rejects with ERR_CLOSED once closed.
  nextLink(): Promise<Link> {
    return this.#current.next()
  }

  // `cause`: why the client cannot go on, which every request gets (default: closed by its user): its
  // server is gone, so no goodbye is said (it would wait for a reply that cannot come).
  close(cause?: ZStateError): Promise<void> {
    this.#closing ??= this.#shutdown(cause)
    return this.#closing
  }

  async #shutdown(cause: ZStateError | undefined): Promise<void> {
    const error = cause ?? new ZStateError(ErrorCode.CLOSED, 'the client is closed')
    this.#life.abort(error)
    this.#linkLife.abort(error)
    for (const user of this.#users) user.close()
    const link = this.#current.link
    this.#current.close(error)
    if (link !== undefined) {
      // Say goodbye so the server forgets us now rather than after its session expiry.
      if (cause === undefined)
        await abortable(link.channel.request(Op.BYE, []), AbortSignal.timeout(1000)).catch(() => {})
      link.close(error)
    }
    this.#refused.fail(error)
    this.#follower.close(error)
    this.#onEvent('closed')
  }

  // Makes a link current once the replica has joined it. After a rejoin the replica then catches up
  // in the background, while requests already flow.
  async #adopt(link: Link, rejoin: boolean, signal: AbortSignal): Promise<void> {
    // The server is watched from the join on, and pinged: one lost while the replica joins (takes its
    // snapshot) gives the join up after the usual silence, or at the refusal of a server that took its
    // address, rather than leaving it to wait for a reply that will never come.
    const life = new AbortController()
    const lost = (reason: string): void => {
      if (this.#current.link === link) this.lose(link, reason)
      else life.abort(new ZStateError(ErrorCode.DISCONNECTED, `lost the server while joining: ${reason}`))
    }
    link.channel.onSessionLost = () => lost('the server no longer knows this client')
    const { heartbeatMs } = link.hello
    const silenceMs = this.#settings.heartbeatTimeout ?? heartbeatMs * 3
    watchHeartbeats(link, { periodMs: heartbeatMs, silenceMs, signal: life.signal }, lost)
    // A listener, not AbortSignal.any(): Node 20 keeps a dead entry in a long-lived source for each.
    const abandon = (): void => life.abort(signal.reason)
    signal.addEventListener('abort', abandon, { once: true })
    if (signal.aborted) abandon()
    try {
      await this.#follower.join(link, rejoin, life.signal)
      // A join that finished just as it was abandoned (closed, timed out) does not make it current.
      signal.throwIfAborted()
    } catch (error) {
      life.abort(error)
      link.close(new ZStateError(ErrorCode.DISCONNECTED, 'join abandoned', { cause: error }))
      throw error
    } finally {
      signal.removeEventListener('abort', abandon)
    }
    this.#linkLife = life
    link.channel.onSessionLost = (refused) => {
      this.#refused.hold(refused)
      this.lose(link, 'the server no longer knows this client')
    }
    // Requests issued after it wait for the next link, rather than fail on this one, as they would
    // until the heartbeats noticed the silence.
    link.channel.onSendFailed = (error) => this.lose(link, error.message)
    // What the last server refused unapplied goes first, before anything issued since.
    for (const request of this.#refused.take()) link.channel.resend(request)
    this.#current.set(link)
    this.#joined = true
    for (const user of this.#users) user.attach(link)
    link.channel.onMove = (reason) => this.#move(link, reason)
    if (link.channel.moveAsked !== undefined) this.#move(link, link.channel.moveAsked)
    if (rejoin) void this.#resume(link, life.signal)
  }

  // 'reconnected' once the replica has caught up, unless it was rebuilt or the link was lost meanwhile.
  async #resume(link: Link, signal: AbortSignal): Promise<void> {
    if (await this.#follower.resume(link, signal).catch(() => false)) {
      debug('reconnected to %s', this.address)
      this.#onEvent('reconnected')
    }
  }

  // The server asked its clients to go to another one (an etcd gateway that reaches no etcd member):
  // with other addresses, it is left as if lost for the next one. Not when every address asked in a
  // row (each move within MOVES_WINDOW_MS of the one before): then none does better (etcd itself is
  // down or cut off from them all), and the client stays where it is.
  #move(link: Link, reason: string): void {
    const { addresses } = this.#settings
    if (addresses.length < 2) return
    const now = Date.now()
    this.#moves = now - this.#lastMove < MOVES_WINDOW_MS ? this.#moves + 1 : 1
    this.#lastMove = now
    if (this.#moves < addresses.length) this.lose(link, `${reason}; moving to the next server`)
  }

  // The server is gone (or replaced): fail what is in flight on `link`, then rejoin in the background.
  lose(link: Link, reason: string): void {
    if (this.#current.link !== link || this.#closing !== undefined) return
    const error = new ZStateError(
      ErrorCode.DISCONNECTED,
      `lost the server at ${this.address}: ${reason}; the outcome of requests in flight is unknown`,
    )
    this.#current.clear()
    this.#linkLife.abort(error)
    for (const user of this.#users) user.detach(link)
    link.close(error)
    this.#follower.lost()
    debug('lost %s: %s; reconnecting', this.address, reason)
    this.#onEvent('disconnected')
    void this.#reconnect()
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return
    this.#reconnecting = true
    try {
      await reconnect(
        async (signal) => this.#adopt(await Link.open(this.#linkOptions(), signal), true, this.#life.signal),
        this.#attemptMs(),
        this.#life.signal,
        (error) => this.#current.failedAttempt(error),
      )
    } catch {
      // closed
    } finally {
      this.#reconnecting = false
    }
    // The link it made was lost already (its server asked the client to move on as it joined): the
    // loss found this loop still running, so the next link is this loop's to make.
    if (this.#current.link === undefined && this.#closing === undefined) void this.#reconnect()
  }

  // Each attempt to reach a server may take this long; joining the replica after that is not bounded.
  #attemptMs(): number {
    return Math.max(1000, this.#settings.heartbeatTimeout ?? 0)
  }

  // For a link to the next address: after a lost server, the next gateway is tried first.
  #linkOptions(): LinkOptions {
    const { addresses, name, requestTimeout, traffic, replicate, curve, childToken } = this.#settings
    const address = addresses[this.#next++ % addresses.length]!
    const moveOn = addresses.length > 1
    return { address, name, requestTimeout, traffic, replicate, curve, childToken, moveOn }
  }
}
