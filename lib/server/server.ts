// The state server: a ROUTER answering requests and a PUB broadcasting every commit, one loop each.
import { Publisher, Router, bindFreed } from '../zmq.ts'
import { ErrorCode, ZStateError } from '../errors.ts'
import { arrayHeader, encode, encodeWithItems } from '../protocol/codec.ts'
import { isList, isRequestId, isRevision, peekArrayLength, peekFirstRequestId } from '../protocol/frames.ts'
import {
  ChangeKind,
  Channel,
  NO_REPLY,
  Op,
  PROTOCOL_VERSION,
  Push,
  Status,
  type WireChange,
} from '../protocol/ops.ts'
import { fromParts } from '../protocol/parts.ts'
import { Prefixes, checkPrefixes } from '../protocol/prefixes.ts'
import { decodeStrict } from '../protocol/strict-decode.ts'
import { deferred } from '../deferred.ts'
import { SendQueue } from '../send-queue.ts'
import { VERSION } from '../version.ts'
import { isIpv6Endpoint } from '../protocol/address.ts'
import { planEndpoints, type Endpoints } from './endpoint.ts'
import { checkSocketFree } from '../socket-file.ts'
import { History } from './history.ts'
import { KeyOwners } from './key-owners.ts'
import { SLOT_MS } from './leases.ts'
import { loadActions, runAction, type Actions } from './actions.ts'
import { Broker, PROVIDER_SILENCE_BEATS } from './broker.ts'
import { Contexts } from './contexts.ts'
import { isChildToken } from './child-sessions.ts'
import { Groups } from './groups.ts'
import { Topics } from './topics.ts'
import { arity, clearPrefix, operations, readTransaction, runTransaction, type Commit } from './operations.ts'
import { Claims } from './claims.ts'
import { Pushes } from './pushes.ts'
import { ReplySender, type ReplyPeer } from './reply-sender.ts'
import { Sessions, isGatewayLink, type Session } from './sessions.ts'
import { readSetFrame } from './set-frame.ts'
import { boundedValues, maxValueBytes } from './value-size.ts'
import { Store } from './store.ts'
import { Turn, type TurnOutput } from './turn.ts'
import { DurableGate } from './durable.ts'
import { openStorage, type Storage } from './storage.ts'
import { ETCD_REQUEST_MS, EtcdGateway, unavailable, within, type FedCommit } from './etcd/gateway.ts'
import { EtcdWrites } from './etcd/writes.ts'
import { Federation } from './etcd/federation.ts'
import type { Chunk } from './slots.ts'
import type { Ack } from './acks.ts'
import { registerZapDomain } from './zap.ts'
import { provesKey } from '../protocol/key-proof.ts'
import { isCurveKey } from '../protocol/z85.ts'
import { randomBytes } from 'node:crypto'
import { errorReply, okReply, okReplyEncoded, push } from './replies.ts'
import { ThrottledListing } from './throttled-listing.ts'
import { SnapshotHolds } from './snapshot-holds.ts'
import { snapshotPage } from './snapshots.ts'
import { HeldBound } from './held-bound.ts'
import { ownString } from './own-string.ts'
import { MAX_FRAME_REQUESTS, SLICE_MS, maxQueuedBytes, replyBudget } from './budget.ts'
import { Inbox, type Batch } from './inbox.ts'
import { resolveServerOptions, type ResolvedServerOptions } from './options.ts'
import type { MetricsEndpoint } from './metrics.ts'
import type { Server, ServerOptions } from './types.ts'
import type { ServerStats } from '../protocol/server-stats.ts'
import type { ProcessTable } from '../protocol/process-table.ts'

export type { Server, ServerOptions } from './types.ts'

export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const resolved = resolveServerOptions(options)
  const actions = await loadActions(options.actions)
  // The address first: one refused leaves a data dir untouched (and unlocked). With curve, tcp beyond
  // loopback is as safe as loopback.
  const endpoints = planEndpoints(resolved.address, resolved.insecure || resolved.curve !== undefined)
  if (resolved.address !== undefined) await checkSocketFree(endpoints.router, SOCKET_PROBE_MS)
  let storage: Storage | undefined
  let gateway: EtcdGateway | undefined
  try {
    // Storage next: a locked or damaged data dir refuses to start before any socket is bound.
    storage =
      resolved.storage === undefined ? undefined : await openStorage(resolved.storage, resolved.history)
    // Or etcd: the gateway reads the state from it (ERR_UNAVAILABLE without a quorum) before binding.
    gateway =
      resolved.etcd === undefined
        ? undefined
        : await EtcdGateway.open(
            resolved.etcd,
            resolved.history,
            Math.max(2, Math.ceil((resolved.heartbeatMs * SESSION_EXPIRY_BEATS) / 1000)),
          )
  } catch (error) {
    endpoints.discard()
    throw error
  }
  // Every socket requires CURVE, and asks the ZAP handler about each client key.
  const zapDomain = `zstate-${randomBytes(8).toString('hex')}`
  const secure =
    resolved.curve === undefined
      ? {}
      : {
          curveServer: true,
          curveSecretKey: resolved.curve.secretKey,
          curvePublicKey: resolved.curve.publicKey,
          zapDomain,
        }
  const unregister =
    resolved.curve === undefined
      ? undefined
      : await registerZapDomain(zapDomain, resolved.curve.authorizedKeys)
  const router = new Router({
    mandatory: true,
    ipv6: isIpv6Endpoint(endpoints.router),
    sendTimeout: 0,
    // Replies a peer has not taken yet, in messages: with the reply budget, this bounds what a peer
    // that stops reading can make the server hold before its backlog overflows and it is forgotten.
    sendHighWaterMark: 64,
    linger: 0,
    // A backstop only: libzmq drops larger messages silently, so our own check answers first.
    maxMessageSize: Math.max(resolved.maxMessageBytes * 4, resolved.maxMessageBytes + (1 << 20)),
    ...secure,
  })
  const pub = new Publisher({
    sendHighWaterMark: resolved.publishHighWaterMark,
    linger: 0,
    ipv6: isIpv6Endpoint(endpoints.pub),
    ...secure,
  })
  let topics: Topics
  try {
    await bindFreed(router, endpoints.router)
    await pub.bind(endpoints.pub)
    topics = await Topics.bind(endpoints.topics, resolved.publishHighWaterMark, secure)
  } catch (error) {
    router.close()
    pub.close()
    endpoints.cleanup()
    unregister?.()
    await storage?.close(true, storage.history.firstRevision)
    await gateway?.close()
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot bind ${endpoints.router}: ${(error as Error).message}`,
      { cause: error },
    )
  }
  const server = new StateServer(
    router,
    pub,
    endpoints,
    resolved,
    actions,
    topics,
    storage,
    gateway,
    unregister,
  )
  if (gateway !== undefined) {
    try {
      await gateway.register(resolved.etcd!.advertise ?? server.address)
    } catch (error) {
      await server.close()
      throw unavailable(error, 'cannot register the gateway in etcd')
    }
  }
  if (resolved.metrics !== undefined) {
    try {
      await server.serveMetrics(resolved.metrics)
    } catch (error) {
      await server.close()
      throw error
    }
  }
  return server
}

class StateServer implements Server {
  readonly address: string
  readonly #router: Router
  readonly #pub: Publisher
  readonly #pubEndpoint: string
  readonly #endpoints: Endpoints
  readonly #options: ResolvedServerOptions
  // Replaced only when a failed write to the data dir sends them back to what the disk holds.
  #store: Store
  #history: History
  readonly #sessions = new Sessions()
  // Snapshots in progress, bounded for all sessions together.
  readonly #snapshotHolds = new SnapshotHolds()
  // Transactions waiting their turn on contended keys, and the turns granted.
  readonly #claims: Claims
  readonly #storage: Storage | undefined
  // On an etcd gateway: etcd holds the state, the store is its replica, and writes go through etcd.
  readonly #gateway: EtcdGateway | undefined
  readonly #writes: EtcdWrites | undefined
  // Services and topics across the gateways (not with curve: the links would need keys of their own).
  readonly #federation: Federation | undefined
  // SYNCs waiting for etcd on a gateway, bounded per session and in all.
  readonly #syncs = new HeldBound('sync: too many syncs wait for etcd', MAX_SESSION_SYNCS, MAX_SYNCS)
  // While this gateway reaches no etcd member: why its clients are asked to move (Push.MOVE).
  #cutOff: string | undefined
  #offersChanged = false
  // Removes this server's ZAP domain (curve).
  readonly #unregisterZap: (() => void) | undefined
  readonly #gate: DurableGate | undefined
  // While the store is read back from the data dir after a failed write: nothing is handled.
  #recovering: Promise<void> | undefined
  // The last revision anyone may have heard of: what heartbeats announce.
  #released = 0
  readonly #replies: ReplySender
  readonly #publishing: SendQueue
  readonly #started = Date.now()
  readonly #turn: Turn
  // Partial sessions' commits, pushed on their own channel when the turn ends.
  readonly #pushes: Pushes
  readonly #inbox: Inbox
  // Reply bytes one frame, and one session per turn, may produce (lib/server/budget.ts).
  readonly #replyBudget: number
  // The most bytes a value the server makes (patched, or an action's) may encode to.
  readonly #maxValueBytes: number
  #turnMessages = 0
  // Whether the loop waits in router.receive() (see the durable gate's idle hook).
  #receiving = false
  #heartbeat: NodeJS.Timeout
  // When the last beat ran, and when the silence of peers starts to count: at the end of the last
  // stretch this loop was blocked (a late beat), as their messages were still waiting to be read.
  #lastBeat = Date.now()
  #silentFrom = 0
  // Deletes keys whose ttl has run out (lib/server/leases.ts).
  readonly #sweeper: NodeJS.Timeout
  // Which session owns each ephemeral key.
  readonly #owners = new KeyOwners<Session>()
  #closing: Promise<void> | undefined
  readonly #closed = deferred<Error | undefined>()
  // Frames without a usable request id: nobody to answer, so they are only counted.
  #droppedFrames = 0
  // Counters for STATS (lib/protocol/server-stats.ts) that no other part keeps.
  readonly #counts = {
    messagesIn: 0,
    bytesIn: 0,
    commits: 0,
    commitBytes: 0,
    gapRepairs: 0,
    resyncs: 0,
    conflicts: 0,
  }
  // Sessions whose next first snapshot page is a resync: they took one already, or the history
  // refused them a gap (a client that rejoined after its session expired).
  readonly #startingOver = new WeakSet<Session>()
  // Where each session's last history page ended: a request from there on is the same fetch, paged.
  readonly #historyNext = new WeakMap<Session, number>()

  readonly #actions: Actions
  // Messaging: services (the broker) and topics, on their own PUB.
  readonly #broker: Broker
  // STATS replies (its services listing grows with the registry).
  readonly #statsListing = new ThrottledListing(() => this.stats())
  readonly #topics: Topics
  // Processes: each session's contexts and their children, listed for `zstate top` (never signalled).
  readonly #contexts: Contexts
  // Sessions by the child token their HELLO named (lib/server/child-sessions.ts).
  readonly #childSessions = new Groups<string, Session>()
  // Sessions whose process is known dead, kept until the server has worked through their frames.
  readonly #ending = new Map<Session, string>()
  // The /metrics endpoint (options.metrics), once it listens.
  #metrics: MetricsEndpoint | undefined
  // The metrics endpoint, as a viewer of the process table: its CPU figures run from scrape to scrape.
  readonly #scrapes = {}

  constructor(
    router: Router,
    pub: Publisher,
    endpoints: Endpoints,
    options: ResolvedServerOptions,
    actions: Actions,
    topics: Topics,
    storage: Storage | undefined,
    gateway: EtcdGateway | undefined,
    unregisterZap: (() => void) | undefined,
  ) {
    this.#unregisterZap = unregisterZap
    this.#storage = storage
    this.#gateway = gateway
    this.#store = storage?.store ?? gateway?.store ?? new Store()
    this.#history = storage?.history ?? gateway?.history ?? new History(options.history)
    this.#released = this.#store.revision
    this.#contexts = new Contexts({
      clients: () => this.#sessions.values(),
      // A process counts as silent after the silence that drops a service provider.
      silence: () => this.#options.heartbeatMs * PROVIDER_SILENCE_BEATS,
      revision: () => this.revision,
      commits: () => this.#counts.commits,
      budget: () => this.#replyBudget,
    })
    this.#actions = actions
    this.#topics = topics
    this.#broker = new Broker({
      heartbeatMs: options.heartbeatMs,
      maxQueuedCalls: options.maxQueuedCalls,
      ownedServices: options.curve !== undefined && options.curve.services === 'owned',
      send: (session, message) => this.#reply(session, session.routingId, message),
      changed: () => this.#providersChanged(),
    })
    this.#router = router
    this.#pub = pub
    this.#endpoints = endpoints
    this.#options = options
    this.address = router.lastEndpoint ?? endpoints.router
    this.#pubEndpoint = pub.lastEndpoint ?? endpoints.pub
    this.#replyBudget = replyBudget(options.maxMessageBytes)
    this.#maxValueBytes = maxValueBytes(options.maxMessageBytes)
    this.#replies = new ReplySender(router, options.maxMessageBytes * 2, (peer, why) =>
      this.#forget(peer, why),
    )
    this.#inbox = new Inbox({
      handle: (batch, request) => this.#handleRequest(batch, request),
      sliceMs: SLICE_MS,
      maxQueuedBytes: maxQueuedBytes(options.maxMessageBytes),
    })
    this.#publishing = new SendQueue(
      (message) => pub.send(message),
      () => {}, // PUB never blocks; a failed publish is a gap that clients repair
    )
    this.#turn = new Turn(this.#publishing, this.#replies, () => this.#store.epoch)
    this.#pushes = new Pushes(() => this.#store.epoch, this.#sessions.partial)
    this.#turn.beforeReplies = () => this.#pushes.end(this.#turn, this.#store.revision)
    this.#turn.revision = () => this.#store.revision
    const release = (output: TurnOutput): void => {
      this.#turn.send(output)
      this.#released = output.revision
    }
    this.#turn.deliver = release
    if (storage !== undefined) {
      const gate = new DurableGate(storage.log, storage.fsync, {
        // Never asked while a receive() is pending: reading `readable` then takes the socket's
        // wake-up, and the pending receive would wait for a message that is already there.
        idle: () => !this.#receiving && !this.#router.readable && !this.#inbox.pending,
        release,
        failed: (outputs, error) => this.#storageFailed(outputs, error),
      })
      this.#gate = gate
      this.#turn.trackRequests = true
      this.#turn.deliver = (output) => gate.deliver(output)
    }
    this.#claims = new Claims({
      run: (session, id, txn) => this.#write(session, id, runTransaction, txn),
      answer: (session, id, result) => this.#answerLater(session, id, result),
      granted: (id, revision) => {
        this.#counts.conflicts++
        return okReply(id, [0, revision, id])
      },
      revision: () => this.#store.revision,
    })
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs)
    this.#heartbeat.unref()
    this.#sweeper = setInterval(() => this.#expire(), SLOT_MS)
    this.#sweeper.unref()
    this.#federation =
      gateway === undefined || options.curve !== undefined
        ? undefined
        : new Federation(gateway.id, this.address, options.etcd!.advertise ?? this.address)
    if (gateway === undefined) {
      this.#writes = undefined
      // No session outlives a restart: ephemeral keys read back from the data dir go at once, with
      // the keys whose ttl ran out while no server ran (in the revision the server starts with).
      const { leases } = this.#store
      this.#deleteKeys([...new Set([...leases.ephemeral(), ...leases.expired(Date.now())])])
    } else {
      this.#writes = new EtcdWrites(
        gateway,
        (session, _id, reply) => {
          if (this.#sessions.get(session.routingId) === session)
            this.#reply(session, session.routingId, reply)
        },
        options.maxMessageBytes,
      )
      gateway.attach({
        commit: (commit) => this.#applyFed(commit),
        batch: () => this.#turn.end(),
        failed: (error) => {
          // etcd cancels a watch without a reason when it compacted past what the watch had to send.
          const reason = /canceled: $/.test(error.message)
            ? `${error.message.trim()} with no reason: etcd compacted past revisions this gateway had yet to receive`
            : error.message
          const cause = new ZStateError(
            ErrorCode.UNAVAILABLE,
            `the etcd watch failed (${reason}): this gateway stopped`,
            { cause: error },
          )
          process.emitWarning(`zstate: ${cause.message}`)
          void this.#stop(cause)
        },
        peer: (id, address) => this.#federation?.peer(id, address),
        reachable: (yes) => this.#reachable(yes, options.etcd!.endpoints),
      })
    }
    void this.#receiveLoop()
  }

  // An etcd gateway that reaches no etcd member asks every client to go to another gateway, now and as
  // they join, until it reaches one again: a client given several moves (lib/link/connection.ts).
  #reachable(yes: boolean, endpoints: readonly string[]): void {
    if (yes) {
      this.#cutOff = undefined
      return
    }
    this.#cutOff = `the etcd gateway at ${this.address} reaches no etcd member (${endpoints.join(', ')})`
    process.emitWarning(`zstate: ${this.#cutOff}: its clients with other gateways move to them`)
    const move = push(Push.MOVE, [this.#cutOff])
    for (const session of this.#sessions.values()) this.#reply(session, session.routingId, move)
  }

  get epoch(): string {
    return this.#store.epoch
  }
  get revision(): number {
    return this.#store.revision
  }

  async #receiveLoop(): Promise<void> {
    while (this.#closing === undefined) {
      if (this.#recovering !== undefined) {
        await this.#recovering
        continue
      }
      // Frames that need more than one slice are worked through while no message waits, and one
      // round after each message otherwise; receive() is awaited only when nothing is left to do.
      if (this.#inbox.pending && !this.#router.readable) {
        await this.#workRound()
        continue
      }
      let message: Buffer[]
      this.#receiving = true
      try {
        message = await this.#router.receive()
      } catch {
        if (this.#closing !== undefined) return
        continue
      } finally {
        this.#receiving = false
      }
      this.#handleMessage(message)
      if (this.#inbox.pending) {
        // What this message produced goes out before the next slice of someone else's work: the
        // turn's sends complete in microtasks, which only run once the loop yields.
        await this.#endTurn()
        await this.#workRound()
        continue
      }
      // The turn ends when nothing more is waiting: flush now rather than after another trip around
      // the event loop. Under a flood it ends every MAX_TURN_MESSAGES, and yields so timers
      // (heartbeats) and other sockets get their turn; it also ends, without yielding, once its
      // commits fill a PUB message, so replicas apply them while the server works on.
      if (!this.#router.readable) {
        this.#turn.end()
        this.#turnMessages = 0
      } else if (++this.#turnMessages >= MAX_TURN_MESSAGES) await this.#endTurn()
      else if (this.#turn.commitBytes >= TURN_COMMIT_BYTES) this.#turn.end()
    }
  }

  async #workRound(): Promise<void> {
    this.#inbox.round()
    await this.#endTurn()
  }

  // Sends what the turn produced and lets the sends, timers and other sockets run.
  async #endTurn(): Promise<void> {
    this.#turn.end()
    this.#turnMessages = 0
    await new Promise<void>((resolve) => setImmediate(resolve))
  }

  #handleMessage(message: Buffer[]): void {
    const routingId = message[0]
    const frame = message.length === 2 ? message[1] : fromParts(message, 1)
    this.#counts.messagesIn++
    this.#counts.bytesIn += frame?.length ?? 0
    if (routingId === undefined || frame === undefined) {
      this.#droppedFrames++
      return
    }
    const key = routingId.toString('latin1')
    const session = this.#sessions.getByKey(key)
    if (session !== undefined) session.lastSeen = Date.now()
    // Refused whole before decoding: a frame over the size limit, or with more requests than one
    // frame may hold (each would cost a reply).
    const count = peekArrayLength(frame)
    if (frame.length > this.#options.maxMessageBytes || (count !== undefined && count > MAX_FRAME_REQUESTS)) {
      const id = peekFirstRequestId(frame)
      if (id === undefined) this.#droppedFrames++
      else {
        const why =
          frame.length > this.#options.maxMessageBytes
            ? `message of ${frame.length} bytes exceeds maxMessageBytes (${this.#options.maxMessageBytes})`
            : `message of ${count} requests exceeds the limit of ${MAX_FRAME_REQUESTS} per message`
        this.#reply(session, routingId, errorReply(id, new ZStateError(ErrorCode.TOO_LARGE, why)))
      }
      return
    }
    let requests: unknown
    try {
      // Plain sets keep their values' bytes (lib/server/set-frame.ts), except on an etcd gateway,
      // whose writes work on values.
      requests = (this.#writes === undefined ? readSetFrame(frame) : undefined) ?? decodeStrict(frame)
    } catch {
      this.#droppedFrames++
      return
    }
    if (!Array.isArray(requests)) {
      this.#droppedFrames++
      return
    }
    const batch: Batch = {
      key,
      routingId,
      requests,
      bytes: frame.length,
      next: 0,
      budget: this.#replyBudget,
    }
    if (!this.#inbox.accept(batch)) this.#refuseBatch(batch, session)
  }

  // The peer sent more than the server can work through: every request of the frame is refused, none
  // applied.
  #refuseBatch(batch: Batch, session: Session | undefined): void {
    const error = new ZStateError(
      ErrorCode.OVERFLOW,
      'the server is still working through earlier requests of this client: nothing of this message was applied',
    )
    for (const request of batch.requests) {
      if (Array.isArray(request) && isRequestId(request[0]) && request[0] !== NO_REPLY)
        this.#reply(session, batch.routingId, errorReply(request[0], error))
    }
  }

  #handleRequest(batch: Batch, request: unknown): void {
    if (!isList(request) || !isRequestId(request[0])) {
      this.#droppedFrames++
      return
    }
    const id = request[0]
    const op = request[1]
    const args = request.slice(2)
    let session = this.#sessions.getByKey(batch.key)
    try {
      if (op === Op.HELLO) session = this.#hello(batch.routingId, args)
      else if (session === undefined) {
        throw new ZStateError(ErrorCode.DISCONNECTED, 'no session with this server: send HELLO first')
      }
      const reply =
        op === Op.HELLO ? this.#helloReply(session, id) : this.#dispatch(session, batch, id, op, args)
      // No reply yet (a call waits for its provider), or none wanted (request id 0).
      if (reply !== undefined && id !== NO_REPLY) this.#answer(batch, session, reply)
      if (op === Op.HELLO && this.#cutOff !== undefined)
        this.#reply(session, batch.routingId, push(Push.MOVE, [this.#cutOff]))
    } catch (error) {
      if (error instanceof ZStateError && error.code === ErrorCode.CONFLICT) this.#counts.conflicts++
      if (id !== NO_REPLY) this.#answer(batch, session, errorReply(id, error))
    }
    if (session !== undefined && id !== NO_REPLY) this.#turn.handled(session, id)
  }

  // A reply produced while handling `batch`: counted against the frame's reply budget.
  #answer(batch: Batch, session: Session | undefined, reply: Buffer): void {
    batch.budget -= reply.length
    this.#reply(session, batch.routingId, reply)
  }

  // Reply bytes a bulk request may still produce: what is left of the frame's budget and of the
  // session's for this turn. None left: ERR_TOO_LARGE, before any work is done.
  #room(session: Session, batch: Batch, what: string): number {
    const room = Math.min(batch.budget, this.#replyBudget - session.repliesBytes)
    if (room <= 0) {
      throw new ZStateError(
        ErrorCode.TOO_LARGE,
        `${what}: the replies to this client's earlier requests in this message or turn already use the ` +
          `budget of ${this.#replyBudget} bytes; send bulk requests one at a time`,
      )
    }
    return room
  }

  #hello(routingId: Buffer, args: unknown[]): Session {
    arity(args, 4, 'hello', 7)
    const [protocol, token, pid, name, replicate, proof, childToken] = args
    if (protocol !== PROTOCOL_VERSION) {
      throw new ZStateError(
        ErrorCode.PROTOCOL,
        `unsupported protocol version ${String(protocol)}; this server speaks ${PROTOCOL_VERSION}`,
      )
    }
    if (!isToken(token) || typeof pid !== 'number' || typeof name !== 'string') {
      throw new ZStateError(
        ErrorCode.PROTOCOL,
        'hello takes [protocol, token, pid, name, replicate?, keyProof?, childToken?]',
      )
    }
    const clientKey = this.#clientKey(token, proof)
    // Key prefixes: a partial session (lib/server/pushes.ts). Nil or absent: everything, on PUB.
    let prefixes: Prefixes | undefined
    if (replicate !== undefined && replicate !== null) {
      checkPrefixes(replicate, 'hello: replicate')
      prefixes = new Prefixes((replicate as string[]).map(ownString))
    }
    if (childToken !== undefined && childToken !== null && !isChildToken(childToken))
      throw new ZStateError(ErrorCode.PROTOCOL, 'hello: a child token is 32 to 64 lowercase hex digits')
    const session = this.#sessions.open(routingId, name, pid, Date.now(), prefixes, this.revision, clientKey)
    if (typeof childToken === 'string') this.#childSessions.put(session, childToken)
    else this.#childSessions.remove(session)
    return session
  }

  // On a curve server every session proves which client key it holds (services are owned per key);
  // elsewhere sessions have none.
  #clientKey(token: string, proof: unknown): string | undefined {
    const curve = this.#options.curve
    if (curve === undefined) return undefined
    const [key, mac] = Array.isArray(proof) ? (proof as unknown[]) : []
    if (
      typeof key !== 'string' ||
      !isCurveKey(key) ||
      !(mac instanceof Uint8Array) ||
      !provesKey(curve, key, token, mac)
    )
      throw new ZStateError(ErrorCode.UNAUTHORIZED, 'hello: no proof of the client key this session holds')
    return key
  }

  #helloReply(session: Session, id: number): Buffer {
    const o = this.#options
    return okReply(id, [
      PROTOCOL_VERSION,
      VERSION,
      this.epoch,
      this.revision,
      this.#pubEndpoint,
      o.maxMessageBytes,
      o.heartbeatMs,
      this.#topics.endpoint,
      session.number,
    ])
  }

  #dispatch(session: Session, batch: Batch, id: number, op: unknown, args: unknown[]): Buffer | undefined {
    switch (op) {
      case Op.ECHO: {
        arity(args, 1, 'echo')
        if (!isToken(args[0])) throw new ZStateError(ErrorCode.PROTOCOL, 'echo takes a token')
        this.#publishing.push([Channel.ECHO + args[0], ''])
        return okReply(id, [])
      }
      case Op.SNAPSHOT:
        arity(args, 1, 'snapshot')
        if (args[0] === null) {
          if (this.#startingOver.has(session)) this.#counts.resyncs++
          else this.#startingOver.add(session)
        }
        return snapshotPage(
          this.#store,
          session,
          id,
          args[0],
          this.#room(session, batch, 'snapshot'),
          this.#snapshotHolds,
        )
      case Op.HISTORY: {
        arity(args, 2, 'history')
        const [from, to] = args
        if (!isRevision(from) || !isRevision(to))
          throw new ZStateError(ErrorCode.PROTOCOL, 'history takes [from, to] revisions')
        const room = this.#room(session, batch, 'history')
        let page
        try {
          page = this.#history.page(from, Math.min(to, this.revision), room)
        } catch (error) {
          if (error instanceof ZStateError && error.code === ErrorCode.COMPACTED)
            this.#startingOver.add(session)
          throw error
        }
        // Each fetch counts once, however many pages it takes.
        if (this.#historyNext.get(session) !== from) this.#counts.gapRepairs++
        this.#historyNext.set(session, page.last + 1)
        return encodeWithItems([id, Status.OK, this.epoch], page.items, page.bytes)
      }
      case Op.SYNC:
        arity(args, 0, 'sync')
        if (this.#gateway === undefined) return okReply(id, [this.epoch, this.revision])
        this.#syncs.take(session)
        void this.#syncThroughEtcd(session, id).finally(() => this.#syncs.give(session))
        return undefined
      case Op.INFO:
        arity(args, 0, 'info')
        return okReply(id, [
          VERSION,
          PROTOCOL_VERSION,
          process.pid,
          this.epoch,
          this.revision,
          this.#sessions.size,
          Date.now() - this.#started,
          this.#droppedFrames,
        ])
      case Op.PING:
        // [revision]: what the client has applied, so its acknowledgements up to there are done.
        if (args.length > 1 || (args.length === 1 && !isRevision(args[0])))
          throw new ZStateError(ErrorCode.PROTOCOL, 'ping takes [] or [revision]')
        if (args.length === 1) session.acks.confirm(args[0] as number)
        // The revision: a partial replica has every matching commit up to it by now (pushes come first).
        return okReply(id, [this.revision])
      case Op.RUN: {
        arity(args, 2, 'run')
        if (this.#writes !== undefined) {
          this.#writes.submit(session, id, batch, (view, commit) => {
            const { changes, patched, result } = runAction(this.#actions, view, args[0], args[1])
            return [changes.length === 0 ? 0 : commit(changes, patched, result), result]
          })
          return undefined
        }
        const { changes, patched, result } = runAction(this.#actions, this.#store, args[0], args[1])
        if (changes.length === 0) return okReply(id, [0, result])
        const revision = this.#commit(changes, patched, session, id, result)
        // Acknowledged, with its result, by the commit itself; a partial session gets a reply.
        return session.replicate === undefined ? undefined : okReply(id, [revision, result])
      }
      case Op.BYE:
        this.#forget(session, 'it said goodbye')
        return okReply(id, [])
      case Op.PROVIDE:
      case Op.WITHDRAW:
      case Op.CALL:
      case Op.RESULT:
      case Op.CANCEL:
      case Op.AWAIT_SERVICE:
        return this.#broker.dispatch(session, id, op, args)
      case Op.SERVICES:
        this.#room(session, batch, 'services')
        return this.#broker.dispatch(session, id, op, args)
      case Op.PUBLISH:
      case Op.TOPIC_ECHO: {
        const reply = this.#topics.dispatch(id, op, args)
        // What a gateway's own clients publish reaches the other gateways' subscribers too.
        if (op === Op.PUBLISH && !isGatewayLink(session))
          this.#federation?.published(args[0] as string, args[1])
        return reply
      }
      case Op.CHILD_GONE:
        arity(args, 1, 'child gone')
        if (!isChildToken(args[0]))
          throw new ZStateError(
            ErrorCode.PROTOCOL,
            'child gone takes [childToken]: 32 to 64 lowercase hex digits',
          )
        for (const child of this.#childSessions.take(args[0]))
          this.#endSession(child, 'its process has exited')
        return okReply(id, [])
      case Op.CONTEXT_OPEN:
      case Op.CONTEXT_CLOSE:
      case Op.CHILD:
      case Op.PROCESSES:
        if (op === Op.PROCESSES) this.#room(session, batch, 'processes')
        return this.#processes(session, id, op, args)
      case Op.STATS:
        arity(args, 0, 'stats')
        this.#room(session, batch, 'stats')
        // Built afresh every time, unless it is large (lib/server/throttled-listing.ts).
        return okReplyEncoded(id, this.#statsListing.latest)
    }
    const operation = typeof op === 'number' ? operations[op] : undefined
    if (operation === undefined) throw new ZStateError(ErrorCode.PROTOCOL, `unknown op code ${String(op)}`)
    if (this.#writes !== undefined) {
      // Through etcd; a transaction is worked out once the replica has its base.
      const base = op === Op.TXN && typeof args[1] === 'number' ? args[1] : 0
      const clear = op === Op.CLEAR ? clearPrefix(args) : undefined
      this.#writes.submit(session, id, batch, (view, commit) => operation(args, view, commit), base, clear)
      return undefined
    }
    // Transactions may wait their turn on contended keys (lib/server/claims.ts).
    if (op === Op.TXN) return this.#claims.transaction(session, id, readTransaction(args, this.#store))
    return this.#write(session, id, operation, args)
  }

  // A write that commits is acknowledged by its published commit, which names this session and
  // request id: no reply (two messages per write). Replies remain for errors and for outcomes that
  // commit nothing (a failed compareAndSet, deleting an absent key), and for every write of a
  // partial session, which sees no published commits: after its push, so it shows the write.
  #write<A>(
    session: Session,
    id: number,
    work: (input: A, store: Store, commit: Commit) => unknown[],
    input: A,
  ): Buffer | undefined {
    let acknowledged = false
    const payload = work(input, this.#store, (changes, patched, result) => {
      acknowledged = true
      return this.#commit(changes, patched, session, id, result)
    })
    return acknowledged && session.replicate === undefined ? undefined : okReply(id, payload)
  }

  // A request answered outside its own handling: a waiting transaction's turn came, and it committed
  // (undefined: its commit answers), failed, or was refused. Claims hold no request without an id, and
  // a conflict becomes a grant, counted with `granted`.
  #answerLater(session: Session, id: number, result: Buffer | undefined | Error): void {
    if (result !== undefined)
      this.#reply(session, session.routingId, result instanceof Error ? errorReply(id, result) : result)
    this.#turn.handled(session, id)
  }

  // On a gateway, SYNC covers every commit made through any gateway before it: etcd names the last
  // one, and the reply waits until this replica has it (and follows the turn's pushes, as always).
  async #syncThroughEtcd(session: Session, id: number): Promise<void> {
    const gateway = this.#gateway!
    let reply: Buffer
    try {
      // etcd known to be down (or cut off from this gateway) and still silent: refused at once, as
      // writes are, not after a read's deadlines.
      const answers = gateway.answers(Date.now())
      if (answers !== true && !(await answers))
        throw new ZStateError(
          ErrorCode.UNAVAILABLE,
          'sync: etcd does not answer this gateway (no quorum, or none of its endpoints reachable from here): which commit is the last is unknown',
        )
      await within(gateway.reach(await gateway.lastCommit()), ETCD_REQUEST_MS)
      reply = okReply(id, [this.epoch, this.revision])
    } catch (error) {
      reply = errorReply(id, unavailable(error, 'sync: etcd did not say which commit is its last'))
    }
    if (id !== NO_REPLY && this.#sessions.get(session.routingId) === session)
      this.#reply(session, session.routingId, reply)
  }

  // Contexts and their children (lib/server/contexts.ts); the process table is gathered asynchronously.
  #processes(session: Session, id: number, op: unknown, args: unknown[]): Buffer | undefined {
    const payload = this.#contexts.handle(session, op, args)
    if (Array.isArray(payload)) return okReply(id, payload)
    void payload.then(
      (table) => this.#reply(session, session.routingId, okReply(id, table)),
      (error: unknown) => this.#reply(session, session.routingId, errorReply(id, error)),
    )
    return undefined
  }

  // The providers changed: once the turn's requests are handled, the federation learns what is offered.
  #providersChanged(): void {
    if (this.#federation === undefined || this.#offersChanged) return
    this.#offersChanged = true
    setImmediate(() => {
      this.#offersChanged = false
      this.#federation?.offers(this.#broker.offers())
    })
  }

  // Commits, naming the revision before it and, for a request that waits, its origin (session and
  // request id, plus an action's result): [revision, previous, changes, session?, requestId?, result?].
  // A partial session's writes are answered by a reply instead: their commits name no origin.
  #commit(
    changes: WireChange[],
    patched: ReadonlyMap<string, unknown> | undefined,
    session: Session | undefined,
    id: number,
    result?: unknown,
  ): number {
    // A write with a result (an action, an increment) made its SET values here; a patch always does.
    const bounded = boundedValues(changes, patched, this.#maxValueBytes, result !== undefined)
    const origin = originOf(session, id, result)
    // Encoded once, by the store: the history, the change stream and the store's values share it.
    this.#committed(this.#store.commit(changes, bounded, origin), changes, session)
    const revision = this.#store.revision
    if (origin.length > 0) session!.acks.add(ackOf(id, revision, result))
    return revision
  }

  // An etcd revision under the prefix, from the gateway's watch. A commit of this gateway's writes (a
  // session's batch) names their session and request ids, and so acknowledges them.
  #applyFed({ revision, previous, changes, writer }: FedCommit): void {
    const sent =
      (writer?.gateway === this.#gateway!.id ? this.#writes!.committed(writer.write) : undefined) ?? []
    const owner = sent[0]?.session
    const session = owner !== undefined && this.#sessions.get(owner.routingId) === owner ? owner : undefined
    const waiting = session === undefined ? [] : sent.filter((write) => write.id !== NO_REPLY)
    const acked = session?.replicate === undefined ? waiting : []
    const origin =
      acked.length === 0
        ? []
        : acked.length === 1
          ? originOf(session, acked[0]!.id, acked[0]!.result)
          : [session!.number, acked.map(({ id, result }) => (result === undefined ? [id] : [id, result]))]
    this.#committed(this.#store.commit(changes, undefined, origin, revision, previous), changes, session)
    for (const { id, result } of acked) session!.acks.add(ackOf(id, revision, result))
    // A partial session sees no published commits: its replies follow the turn's push.
    if (session?.replicate !== undefined)
      for (const { id, payload } of waiting)
        this.#turn.reply(session, okReply(id, [revision, ...payload.slice(1)]))
  }

  // What every commit is followed by: the counts, pushes, key owners, history and the turn's change
  // stream (its acknowledgements are the caller's).
  #committed(commit: Chunk, changes: WireChange[], session: Session | undefined): void {
    const revision = this.#store.revision
    this.#counts.commits++
    this.#counts.commitBytes += commit.bytes.length
    this.#pushes.commit(revision, changes)
    this.#owners.commit(changes, session)
    this.#history.push(commit, revision)
    this.#turn.commit(commit.bytes)
  }

  // Deletes `keys` that still exist, as one commit of the server's own (no origin).
  #deleteKeys(keys: readonly string[]): void {
    if (this.#writes !== undefined) {
      if (keys.length > 0) void this.#writes.deleteKeys(keys)
      return
    }
    const changes: WireChange[] = []
    for (const key of keys) if (this.#store.has(key)) changes.push([key, ChangeKind.DELETE])
    if (changes.length > 0) this.#commit(changes, undefined, undefined, NO_REPLY)
  }

  // Keys whose ttl has run out. Not while the store is being read back: it has its own leases then.
  #expire(): void {
    if (this.#closing !== undefined || this.#recovering !== undefined) return
    this.#deleteKeys(this.#store.leases.expired(Date.now()))
  }

  #reply(session: Session | undefined, routingId: Buffer, reply: Buffer): void {
    if (session === undefined) {
      // No session: answer at once, outside the per-turn batches, and only if the peer takes it.
      this.#replies.sendOnce(Buffer.from(routingId), Buffer.concat([arrayHeader(1), reply]))
      return
    }
    this.#turn.reply(session, reply)
  }

  #beat(): void {
    this.#store.forgetBefore(this.#history.firstRevision - 1)
    if (!this.#turn.published)
      this.#publishing.push([Channel.HEARTBEAT, encode([this.epoch, this.#released])])
    this.#storage?.maintain(this.#history.firstRevision)
    this.#turn.published = false
    const now = Date.now()
    if (now - this.#lastBeat > this.#options.heartbeatMs * LATE_BEATS) this.#silentFrom = now
    this.#lastBeat = now
    const cutoff = now - this.#options.heartbeatMs * SESSION_EXPIRY_BEATS
    if (this.#silentFrom < cutoff)
      for (const session of this.#sessions.idleSince(cutoff))
        // A peer whose frames the server is still working through is waiting on the server, not silent.
        if (!this.#inbox.holds(session.key)) this.#forget(session, 'its session expired')
    for (const [session, why] of this.#ending) if (!this.#inbox.holds(session.key)) this.#forget(session, why)
    this.#broker.tick(now, this.#silentFrom)
  }

  // Nothing of `outputs` was logged (or synced): their requests are refused, and the store and history
  // are read back from the data dir, which holds exactly what anyone may have heard of.
  #storageFailed(outputs: TurnOutput[], cause: unknown): void {
    const storage = this.#storage!
    const before = outputs[0]!.revision - outputs[0]!.commits.length
    // A closing server's log takes no more: its writers hear what a server gone away tells them, and
    // send the writes again to the server they join next (this one restarted on its data dir, say).
    const closing = this.#closing !== undefined
    const error = closing
      ? new ZStateError(ErrorCode.DISCONNECTED, 'the server is closing: nothing of this write was applied')
      : new ZStateError(
          ErrorCode.STORAGE,
          `the data dir could not take this write (${(cause as Error).message}): nothing of it was applied`,
          { cause },
        )
    const refused = new Map<Session, Buffer[]>()
    for (const output of outputs)
      for (const [session, id] of output.requests) {
        const replies = refused.get(session) ?? []
        replies.push(errorReply(id, error))
        refused.set(session, replies)
      }
    for (const [session, replies] of refused)
      this.#replies.sendOnce(
        Buffer.from(session.routingId),
        Buffer.concat([arrayHeader(replies.length), ...replies]),
      )
    if (closing) return
    // A background fsync that failed ('interval') surfaces as a refused append: the log is cut back to
    // what the last good fsync covered. If that cut commits someone heard of, clients must start over.
    const lost = storage.log.rewind() < this.#released
    for (const session of this.#sessions.values()) {
      session.acks.dropAfter(before)
    }
    this.#snapshotHolds.clear()
    // Transactions waiting their turn are refused too, before a session's end could give one its turn.
    this.#claims.clear(error)
    // Their pushes of those turns were never sent: they join again rather than follow a broken chain.
    for (const session of [...this.#sessions.partial]) this.#forget(session, 'its pushes could not be logged')
    this.#pushes.clear()
    this.#recovering = storage.reload(lost).then(
      ({ store, history }) => {
        this.#store = store
        this.#history = history
        this.#released = store.revision
        this.#recovering = undefined
      },
      (reloadError: unknown) => {
        // The data dir cannot even be read back: stop rather than serve a state it does not hold.
        process.emitWarning(`zstate: the data dir cannot be read back: ${(reloadError as Error).message}`)
        this.#recovering = undefined
        void this.close().catch(() => {})
      },
    )
  }

  // A session whose process died (its context said so): it ends now, or once the server has worked
  // through the frames it sent before (they came first).
  #endSession(session: Session, why: string): void {
    if (this.#inbox.holds(session.key)) this.#ending.set(session, why)
    else this.#forget(session, why)
  }

  #forget(peer: ReplyPeer, why: string): void {
    const session = this.#sessions.get(peer.routingId)
    if (session === undefined) return
    this.#ending.delete(session)
    this.#childSessions.remove(session)
    // Its ephemeral keys end with it (a key read back after a failed write may have lost its lease); on
    // etcd, with its lease.
    const owned = this.#owners.end(session)
    if (this.#gateway !== undefined) this.#gateway.endSession(session)
    else this.#deleteKeys(owned.filter((key) => this.#store.leases.get(key)?.[0] === true))
    this.#writes?.drop(session)
    this.#claims.drop(session)
    this.#broker.dropSession(session, why)
    this.#contexts.dropSession(session)
    this.#snapshotHolds.release(session)
    this.#sessions.delete(session)
    this.#turn.drop(session)
    this.#replies.discard(session)
  }

  // What the server has done since it started, as STATS answers it.
  stats(): ServerStats {
    const counts = this.#counts
    return {
      pid: process.pid,
      uptime: Date.now() - this.#started,
      epoch: this.epoch,
      revision: this.revision,
      commits: counts.commits,
      sessions: {
        full: this.#sessions.size - this.#sessions.partial.size,
        partial: this.#sessions.partial.size,
      },
      messagesIn: counts.messagesIn,
      bytesIn: counts.bytesIn,
      messagesOut: this.#replies.sent,
      bytesOut: this.#replies.sentBytes,
      commitBytes: counts.commitBytes,
      droppedFrames: this.#droppedFrames,
      gapRepairs: counts.gapRepairs,
      resyncs: counts.resyncs,
      conflicts: counts.conflicts + (this.#writes?.conflicts ?? 0),
      turns: { waiting: this.#claims.waiting, granted: this.#claims.granted, lapsed: this.#claims.lapsed },
      history: { revisions: this.#history.length, bytes: this.#history.bytes },
      services: this.#broker.stats(),
      topics: this.#topics.tally.stats(),
      storage:
        this.#storage === undefined
          ? null
          : { fsync: this.#options.storage!.fsync, ...this.#storage.log.fsyncTally },
      etcd:
        this.#gateway === undefined
          ? null
          : {
              up: this.#gateway.up,
              unavailableWrites: this.#writes!.unavailable,
              failedRequests: this.#gateway.failedRequests,
            },
    }
  }

  get metricsUrl(): string | undefined {
    return this.#metrics?.url
  }

  // Started once the sockets are bound: startServer closes the server if the port cannot be had.
  async serveMetrics(listen: { host: string; port: number }): Promise<void> {
    // prom-client is loaded only by a server that serves /metrics.
    const { startMetrics } = await import('./metrics.ts')
    this.#metrics = await startMetrics(listen, {
      stats: () => this.stats(),
      processes: () => this.#processTable(),
    })
  }

  // The table the metrics endpoint serves (lib/server/process-listing.ts): CPU since its last scrape.
  #processTable(): Promise<ProcessTable> {
    return this.#contexts.table(this.#scrapes)
  }

  get closed(): Promise<Error | undefined> {
    return this.#closed.promise
  }

  close(): Promise<void> {
    return this.#stop(undefined)
  }

  // Closes; `cause` is why the server stopped on its own (what `closed` resolves with).
  #stop(cause: Error | undefined): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = this.#shutdown()
      this.#closing.then(
        () => this.#closed.resolve(cause),
        () => this.#closed.resolve(cause),
      )
    }
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#heartbeat)
    clearInterval(this.#sweeper)
    this.#claims.close()
    this.#broker.close()
    await this.#metrics?.close()
    // What the last turn produced is logged (and synced) before the sockets go.
    this.#turn.end()
    this.#turn.close()
    await this.#recovering
    await this.#gate?.settled()
    this.#inbox.clear()
    this.#contexts.close()
    this.#replies.close()
    await this.#publishing.drained()
    try {
      await this.#storage?.close(true, this.#history.firstRevision)
      await this.#federation?.close()
      await this.#gateway?.close()
    } finally {
      await this.#topics.close()
      this.#router.close()
      this.#pub.close()
      this.#endpoints.cleanup()
      this.#unregisterZap?.()
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

// A commit's origin: the session and request id of the write it acknowledges, plus what the writer
// gets back. None for the server's own commits, for writes that want no reply, and for a partial
// session's writes, which are answered by a reply instead.
function originOf(session: Session | undefined, id: number, result: unknown): unknown[] {
  if (id === NO_REPLY || session === undefined || session.replicate !== undefined) return []
  return result === undefined ? [session.number, id] : [session.number, id, result]
}

function ackOf(id: number, revision: number, result: unknown): Ack {
  return result === undefined ? [id, revision] : [id, revision, result]
}

// A turn (group commit) ends after this many messages even if more are waiting,
const MAX_TURN_MESSAGES = 256
// or once it holds this many bytes of commits (a few client batches' worth).
const TURN_COMMIT_BYTES = 256 * 1024

// A session silent for this many heartbeat periods is forgotten (clients ping every period). Silence,
// of sessions and of providers (lib/server/broker.ts), counts from the end of the last time this loop
// was blocked: a beat more than LATE_BEATS periods after the one before.
const SESSION_EXPIRY_BEATS = 10
// SYNCs that may wait for etcd on a gateway: per session (a client syncs now and then) and in all.
const MAX_SESSION_SYNCS = 1024
const MAX_SYNCS = 65_536
const LATE_BEATS = 2.5
// How long a socket file at the server's ipc path may take to answer before it counts as a dead one's.
const SOCKET_PROBE_MS = 1_000

function isToken(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{8,64}$/.test(value)
}
