// An etcd gateway's link to etcd (docs/scale-out.md): it reads the state under the prefix into a
// store at start, then follows etcd's watch from that revision, handing each revision on as a
// commit. The store is a replica of etcd: only what etcd committed is ever applied to it.
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as pause } from 'node:timers/promises'
import type { Etcd3, IKeyValue, ITxnRequest, ITxnResponse, IWatchResponse, Lease, Watcher } from 'etcd3'
import { ErrorCode, ZStateError } from '../../errors.ts'
import { encode } from '../../protocol/codec.ts'
import { decodeStrict } from '../../protocol/strict-decode.ts'
import { ChangeKind, type WireChange, type WireLease } from '../../protocol/ops.ts'
import { History, type HistoryLimits } from '../history.ts'
import { Store } from '../store.ts'
import { Layout, decodeValue } from './layout.ts'
import { LEADERLESS_MS, MemberHealth, probeDeadlineMs, type ClientBreakers } from './member-health.ts'

export interface EtcdOptions {
  endpoints: string[]
  prefix: string
  // Where the other gateways reach this one (services and topics); default: its bound address.
  advertise: string | undefined
  username: string | undefined
  password: string | undefined
}

// What a commit of another gateway's, or of this one, says about its origin (<prefix>_tx).
export interface Writer {
  gateway: string
  write: number
}

// One etcd revision under the prefix, as a zstate commit.
export interface FedCommit {
  revision: number
  // The revision of the commit before it under the prefix: the same on every gateway.
  previous: number
  changes: WireChange[]
  writer: Writer | undefined
}

// Who takes the commits as they arrive: the server, once it is built around the gateway.
export interface GatewayConsumer {
  commit(commit: FedCommit): void
  // The end of a batch of commits (one watch response).
  batch(): void
  // The watch failed for good (etcd compacted past it, or the prefix is gone): the server stops.
  failed(error: Error): void
  // Another gateway of the state registered (its address) or went away (undefined).
  peer(id: string, address: string | undefined): void
  // The gateway reaches no etcd member (false: see MemberHealth), or reaches one again (true).
  reachable(yes: boolean): void
}

// Keys per page when reading the state at start (a gRPC message holds at most 4 MiB by default).
const PAGE_KEYS = 1000
// How long one request to etcd may take, leader elections included, before the write is refused.
export const ETCD_REQUEST_MS = 5000
// How long the fence is tried, every resend included: twice a request's deadline, so a try begun late
// still has the time a leader election takes, and a write of an outage is refused within 15 s.
const FENCE_MS = 2 * ETCD_REQUEST_MS
// Between tries of a request that got no answer (a member down, an election under way).
const RETRY_PAUSE_MS = 100
// How long the etcd3 client leaves a member alone after three failures in a row before trying it again.
const MEMBER_RETRY_MS = 1000
// How long a write asks etcd, known to be down, whether it answers again before it is refused: two of
// those intervals, so a member given up on just before the question began is asked again within it
// (with one interval, a quorum back for a moment could still be refused as down on a loaded machine).
const PROBE_MS = 2 * MEMBER_RETRY_MS
// How long a watch left behind is given to be cancelled before its client closes.
const CANCEL_WAIT_MS = 1000

// An etcd lease that holds a session's ephemeral keys: kept alive by this gateway while the session
// lives, revoked when it ends; if the gateway dies, etcd deletes the keys when the lease expires.
interface SessionLease {
  readonly lease: Lease
  id: string | undefined
  readonly granted: Promise<string>
}

// A client for the watch, and its breakers (released when it is left).
interface WatchClient {
  readonly client: Etcd3
  readonly breakers: ClientBreakers
}

// The gateway's etcd3 clients, each with breakers that the member health holds open for members set aside.
interface EtcdClients {
  readonly client: Etcd3
  readonly writer: Etcd3
  // A new client for the watch.
  readonly watchClient: () => WatchClient
  readonly health: MemberHealth
}

interface RevisionWaiter {
  revision: number
  resolve: () => void
}

export class EtcdGateway {
  // Names this gateway in the commits of its writes: random, so a restarted gateway is a new one.
  readonly id = randomBytes(8).toString('hex')
  readonly layout: Layout
  readonly store: Store
  readonly history: History
  readonly #client: Etcd3
  // Sends each write's transaction once (see open()).
  readonly #writer: Etcd3
  // The watch, on a client of its own: moving it to another member takes a new client.
  #watch: (WatchClient & { watcher: Watcher }) | undefined
  readonly #watchClient: () => WatchClient
  readonly #health: MemberHealth
  #closed = false
  // How to give up the transactions in flight (see txn()).
  readonly #inFlight = new Set<(error: Error) => void>()
  // The revision that last created or deleted a key: what key-space reads compare.
  #keySpaceRevision: number
  // The last revision under the prefix the watch delivered (or the one before where it started).
  #lastEvent: number
  // Every write of this gateway compares its fence key with this revision (0: never moved), which
  // follows the key's moves through the watch: a raiseFence that got no answer, but that etcd took
  // once it had a quorum again, moves it too.
  readonly #fenceKey: Buffer
  #fence = 0
  // Whether etcd did not take the fence (no quorum), until it answers again, and the question asked.
  #down = false
  #probe: Promise<boolean> | undefined
  // When the last question found etcd still down: a write that was waiting by then is refused at
  // once (it waited for that question), one that came later asks again.
  #stillDownAt = Number.NEGATIVE_INFINITY
  // Whether a loop asks etcd, known to be down, whether it answers again (see #markDown()).
  #recovering = false
  // The read of the last commit in flight, and the one that follows it (see lastCommit()).
  #commitRead: Promise<number> | undefined
  #nextCommitRead: Promise<number> | undefined
  #waiting: RevisionWaiter[] = []
  // Commits that came before the server attached, and the server once it has.
  #held: FedCommit[] = []
  // The gateways registered, by id: read with the state, then followed.
  readonly #peers: Map<string, string>
  // This gateway's registration, once it has one, and the address it registers.
  #registration: Lease | undefined
  #address: string | undefined
  #registering = false
  // close() has begun: what it deletes (the registration, the fence) is not put back.
  #closing = false
  // Keys under the prefix whose values no zstate client could read, by mod revision (see txn.ts).
  readonly unreadable: Map<string, number>
  #consumer: GatewayConsumer | undefined
  readonly #leases = new Map<object, SessionLease>()
  // Sessions that ended: a write of theirs still being worked out gets no lease (granted after the
  // session's end, nothing would ever revoke it, and its keep-alives would go on for good).
  readonly #ended = new WeakSet<object>()
  // Seconds a session lease outlives this gateway's last keep-alive.
  readonly #leaseSeconds: number

  private constructor(
    { client, writer, watchClient, health }: EtcdClients,
    layout: Layout,
    store: Store,
    history: History,
    keySpace: number,
    leaseSeconds: number,
    peers: Map<string, string>,
    unreadable: Map<string, number>,
  ) {
    this.#peers = peers
    this.unreadable = unreadable
    this.#client = client
    this.#writer = writer
    this.#watchClient = watchClient
    this.#health = health
    this.#leaseSeconds = leaseSeconds
    this.#lastEvent = history.firstRevision - 1
    this.layout = layout
    this.#fenceKey = layout.fence(this.id)
    this.store = store
    this.history = history
    this.#keySpaceRevision = keySpace
  }

  // `leaseSeconds`: how long a dead gateway's sessions' ephemeral keys stay (its session expiry).
  static async open(options: EtcdOptions, limits: HistoryLimits, leaseSeconds: number): Promise<EtcdGateway> {
    const [{ Etcd3, isRecoverableError, GRPCResourceExhastedError }, cockatiel] = await Promise.all([
      import('etcd3'),
      import('cockatiel'),
    ])
    let started: EtcdGateway | undefined
    const health = new MemberHealth(options.endpoints, {
      deadlineMs: probeDeadlineMs(leaseSeconds),
      probeClient: (endpoint) =>
        new Etcd3({ hosts: endpoint, faultHandling: { host: () => cockatiel.noop, global: cockatiel.noop } }),
      // A member that answers counts as failing when it does not answer; a refusal is an answer (etcd
      // full: its NOSPACE alarm refuses every write, on every member, which is no reason to avoid one).
      breaker: () =>
        cockatiel.circuitBreaker(
          cockatiel.handleWhen(
            (error) => isRecoverableError(error) && !(error instanceof GRPCResourceExhastedError),
          ),
          { halfOpenAfter: MEMBER_RETRY_MS, breaker: new cockatiel.ConsecutiveBreaker(3) },
        ),
      onSetAside: (endpoint) => {
        if (started !== undefined) started.#memberSetAside(endpoint)
      },
      // No quorum: writes are refused unsent until a fence put goes through again (see answers()).
      onLeaderless: () => {
        if (started === undefined) return
        started.#markDown()
        process.emitWarning(
          `zstate: no etcd member that answers this gateway has known a leader for ${LEADERLESS_MS / 1000} s (no quorum): writes are refused until etcd has one again`,
        )
      },
      onReach: (reachable) => {
        if (started === undefined) return
        // Cut off, etcd counts as down: writes ask it whether it answers, and are refused unsent if not.
        if (!reachable) started.#markDown()
        started.#consumer?.reachable(reachable)
      },
    })
    const connect = (resends: boolean, breakers = health.clientBreakers()): Etcd3 =>
      new Etcd3({
        hosts: options.endpoints,
        ...(options.username === undefined
          ? {}
          : { auth: { username: options.username, password: options.password ?? '' } }),
        // No size limits of gRPC's own: etcd's request limit is the one that refuses (ERR_TOO_LARGE).
        grpcOptions: { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 },
        // A deadline for requests, not for streams: the watch and the leases' keep-alives live on
        // (with one, etcd3 cut them all every 5 s and counted that as the member failing).
        defaultCallOptions: ({ isStream }) => (isStream ? {} : { deadline: Date.now() + ETCD_REQUEST_MS }),
        // A gateway must find etcd again well within a write's deadline once etcd is back: a member it
        // gave up on is tried again after 1 s, and its watch reconnects within 500 ms (etcd3's
        // defaults, 5 s and up to 30 s, left writes waiting past their deadline after an outage). A
        // member that hangs is set aside by the health probes instead (member-health.ts).
        faultHandling: {
          host: breakers.host,
          watchBackoff: new cockatiel.ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }).next(),
          // etcd3 sends a request that failed up to 3 times, each with a deadline of its own. A write's
          // transaction goes once: one that got no answer may still commit, and sent again it could
          // commit twice; the fence decides its fate instead (see raiseFence()).
          ...(resends ? {} : { global: cockatiel.noop }),
        },
      })
    const client = connect(true)
    const writer = connect(false)
    const watchClient = (): WatchClient => {
      const breakers = health.clientBreakers()
      return { client: connect(true, breakers), breakers }
    }
    try {
      const layout = new Layout(options.prefix)
      const { store, keySpace, peers, unreadable } = await readState(client, layout)
      // The history starts before the state read: etcd still holds the commits before it (unless
      // compacted), and clients that come from another gateway may need them.
      const history = new History(
        limits,
        await historyStart(client, layout, store.revision, limits.revisions),
      )
      const gateway = new EtcdGateway(
        { client, writer, watchClient, health },
        layout,
        store,
        history,
        keySpace,
        leaseSeconds,
        peers,
        unreadable,
      )
      started = gateway
      await gateway.#follow()
      // The history is complete once the watch has delivered a commit made now: the gateway's fence,
      // put under the prefix, so every revision a client of the gateway hears of is a commit there.
      await within(gateway.reach(await gateway.raiseFence()), ETCD_REQUEST_MS)
      return gateway
    } catch (error) {
      // Its watch too, once it follows one: left open, it would try to reconnect for ever.
      if (started !== undefined) await started.close()
      else {
        health.close()
        client.close()
        writer.close()
      }
      throw unavailable(error, `cannot read the state from etcd at ${options.endpoints.join(',')}`)
    }
  }

  // The server takes the commits from now on, beginning with those that came before.
  attach(consumer: GatewayConsumer): void {
    this.#consumer = consumer
    for (const commit of this.#held) consumer.commit(commit)
    this.#held = []
    consumer.batch()
    for (const [id, address] of this.#peers) consumer.peer(id, address)
    if (!this.#health.reachable) consumer.reachable(false)
  }

  // Registers this gateway at `address`, for the others to find, for as long as it lives: should the
  // registration go (its lease expired in an outage of etcd or of this gateway's members, or someone
  // deleted its key), the gateway registers again, or the others would never reach it again.
  async register(address: string): Promise<void> {
    this.#address = address
    await this.#putRegistration()
  }

  async #putRegistration(): Promise<void> {
    const lease = this.#client.lease(this.#leaseSeconds)
    this.#registration = lease
    lease.on('lost', () => this.#registrationLost(lease, 'its lease expired'))
    await lease.put(this.layout.gateway(this.id)).value(this.#address!)
  }

  #registrationLost(lease: Lease | undefined, why: string): void {
    if (this.#closing || this.#registering || lease !== this.#registration) return
    this.#registering = true
    process.emitWarning(
      `zstate: this gateway's registration in etcd ended (${why}): the other gateways reach its services and topics again once it has registered anew`,
    )
    void lease?.revoke().catch(() => {})
    void (async () => {
      while (!this.#closing) {
        try {
          await this.#putRegistration()
          break
        } catch {
          await pause(MEMBER_RETRY_MS, undefined, { ref: false })
        }
      }
      this.#registering = false
    })()
  }

  get keySpaceRevision(): number {
    return this.#keySpaceRevision
  }

  get fence(): { key: Buffer; revision: number } {
    return { key: this.#fenceKey, revision: this.#fence }
  }

  // Moves the fence: no write of this gateway sent before can commit after the returned revision.
  // A fence put may go more than once (a later one only moves it further), so it rides a leader
  // election on etcd3's resends and tries of its own, all within FENCE_MS; if etcd takes it in none
  // of them, etcd counts as down.
  async raiseFence(): Promise<number> {
    // etcd known to be down (no quorum): as long as a write asks whether it answers again.
    const deadline = Date.now() + (this.#down ? PROBE_MS : FENCE_MS)
    try {
      const response = await tried(deadline, () =>
        this.#client.kv.txn(
          { success: [{ request_put: { key: this.#fenceKey, value: Buffer.alloc(0) } }] },
          { deadline },
        ),
      )
      this.#fence = Math.max(this.#fence, Number(response.header.revision))
      this.#down = false
      return this.#fence
    } catch (error) {
      this.#markDown()
      throw error
    }
  }

  // etcd counts as down until it answers again. It is asked every PROBE_MS meanwhile, not only when a
  // write comes: an idle gateway reports it back up (STATS, /metrics) once it has a quorum again.
  #markDown(): void {
    this.#down = true
    if (this.#recovering) return
    this.#recovering = true
    void (async () => {
      while (!this.#closing && !(await this.answers(Date.now())))
        await pause(PROBE_MS, undefined, { ref: false })
      this.#recovering = false
    })()
  }

  // Whether etcd answers this gateway, as far as it knows (see answers()).
  get up(): boolean {
    return !this.#down
  }

  // Requests to etcd members that got no answer (MemberHealth).
  get failedRequests(): number {
    return this.#health.failedRequests
  }

  // Whether etcd answers a write that has waited since `since` (a time of Date.now()): yes while it
  // is not known to be down (it did not take the fence); no if a question found it still down after
  // the write came (the writes a session queued behind one that was refused); else reads that need a
  // quorum, tried for PROBE_MS, one probe shared by the writes that ask meanwhile. So during an outage
  // a write is refused unsent within about two seconds of its coming, not after its deadlines.
  answers(since: number): boolean | Promise<boolean> {
    if (!this.#down) return true
    if (this.#probe === undefined && since < this.#stillDownAt) return false
    const deadline = Date.now() + PROBE_MS
    this.#probe ??= tried(deadline, () =>
      this.#client.kv.range({ key: this.layout.tx, keys_only: true }, { deadline }),
    )
      .then(
        () => {
          this.#down = false
          return true
        },
        () => {
          this.#stillDownAt = Date.now()
          return false
        },
      )
      .finally(() => (this.#probe = undefined))
    return this.#probe
  }

  // The revision of the last commit any gateway made (<prefix>_tx), read through etcd's leader. One
  // read at a time: a request while one is in flight waits for the next, which starts when that one
  // ends (a read begun before the request may miss a commit made just before it) and answers every
  // request that came meanwhile; so a flood of SYNCs costs etcd two reads at a time, not one each.
  lastCommit(): Promise<number> {
    if (this.#commitRead === undefined) {
      this.#commitRead = this.#client.kv
        .range({ key: this.layout.tx, keys_only: true })
        .then((response) => Number(response.kvs[0]?.mod_revision ?? 0))
        .finally(() => (this.#commitRead = undefined))
      return this.#commitRead
    }
    const next = (): Promise<number> => {
      this.#nextCommitRead = undefined
      return this.lastCommit()
    }
    this.#nextCommitRead ??= this.#commitRead.then(next, next)
    return this.#nextCommitRead
  }

  // Sent once, with ETCD_REQUEST_MS to answer: without an answer, its outcome is unknown. A member set
  // aside while it is in flight ends the wait at once, as no answer (it may be the member it went to,
  // which would hold it till its deadline): the caller's fence settles its fate.
  txn(request: ITxnRequest): Promise<ITxnResponse> {
    return new Promise((resolve, reject) => {
      this.#inFlight.add(reject)
      this.#writer.kv
        .txn(request)
        .then(resolve, reject)
        .finally(() => this.#inFlight.delete(reject))
    })
  }

  // Resolves with the next commit delivered, or after `ms` if none comes.
  nextCommit(ms: number): Promise<void> {
    return within(this.reach(this.#lastEvent + 1), ms).catch(() => {})
  }

  // Resolves once the watch has delivered the commit of `revision`, a revision under the prefix (or
  // at once if it has); once the server is attached, it applies each commit as it is delivered.
  reach(revision: number): Promise<void> {
    if (revision <= this.#lastEvent) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = { revision, resolve }
      let i = this.#waiting.length
      while (i > 0 && this.#waiting[i - 1]!.revision > revision) i--
      this.#waiting.splice(i, 0, waiter)
    })
  }

  // The id of the lease for `owner`'s ephemeral keys once granted; until then, a promise of it.
  sessionLease(owner: object): string | Promise<string> {
    if (this.#ended.has(owner))
      return Promise.reject(
        new ZStateError(ErrorCode.DISCONNECTED, 'the session ended before its ephemeral write went to etcd'),
      )
    let held = this.#leases.get(owner)
    if (held === undefined) {
      const lease = this.#client.lease(this.#leaseSeconds)
      const granted = lease.grant()
      held = { lease, id: undefined, granted }
      const entry = held
      void granted.then(
        (id) => (entry.id = id),
        () => this.#leases.delete(owner),
      )
      // Keep-alives failed for longer than the ttl: its keys are gone; the next ephemeral write gets a new lease.
      lease.on('lost', () => {
        if (this.#leases.get(owner) === entry) this.#leases.delete(owner)
      })
      this.#leases.set(owner, held)
    }
    return held.id ?? held.granted
  }

  // The session ended: etcd deletes its ephemeral keys, as one revision.
  endSession(owner: object): void {
    this.#ended.add(owner)
    const held = this.#leases.get(owner)
    if (held === undefined) return
    this.#leases.delete(owner)
    void held.lease.revoke().catch(() => {})
  }

  async close(): Promise<void> {
    this.#closing = true
    const leases = [...this.#leases.values()].map((held) => held.lease)
    if (this.#registration !== undefined) leases.push(this.#registration)
    // The fence is this gateway's alone: left behind, every gateway that ever ran would leave a key.
    const fence = this.#client
      .delete()
      .key(this.#fenceKey)
      .exec()
      .catch(() => {})
    // Within a bound, shorter while etcd is down: what is not done by then, etcd does (the leases
    // expire) or leaves (the fence key), as when a gateway is killed; a stop must not wait out
    // every deadline (10 s of an outage, all a service manager gives a process by default).
    const cleanup = Promise.all([fence, ...leases.map((lease) => lease.revoke().catch(() => {}))])
    await byDeadline(cleanup, Date.now() + (this.#down ? PROBE_MS : ETCD_REQUEST_MS)).catch(() => {})
    this.#leases.clear()
    this.#closed = true
    await this.#unwatch()
    this.#health.close()
    this.#client.close()
    this.#writer.close()
  }

  // Follows etcd's watch from the revision after the last one delivered, on a new client: its stream
  // goes to a member that answers (see #memberSetAside). Resolves once etcd has created the watch.
  async #follow(): Promise<void> {
    void this.#unwatch()
    const { client, breakers } = this.#watchClient()
    const watcher = client
      .watch()
      .prefix(this.layout.prefix)
      .startRevision(String(this.#lastEvent + 1))
      .watcher()
    const watch = { client, breakers, watcher }
    this.#watch = watch
    // A watch left behind delivers nothing more, and fails nothing.
    watcher.on('data', (response: IWatchResponse) => {
      if (this.#watch === watch) this.#feed(response)
    })
    watcher.on('error', (error: Error) => {
      if (this.#watch === watch) this.#consumer?.failed(error)
    })
    await new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve())
      watcher.once('error', reject)
    })
  }

  // Leaves the watch. Its client is closed once etcd cancelled the watch (then nothing stays open
  // behind it), or after CANCEL_WAIT_MS, as a member that hangs never answers; moving the watch does
  // not wait for that.
  async #unwatch(): Promise<void> {
    const watch = this.#watch
    if (watch === undefined) return
    this.#watch = undefined
    watch.breakers.release()
    const cancelled = watch.watcher.cancel().catch(() => {})
    await Promise.race([cancelled, pause(CANCEL_WAIT_MS, undefined, { ref: false })])
    watch.client.close()
  }

  // A member stopped answering: what may wait on it moves to those that answer. Transactions in flight
  // are given up (see txn()), the watch follows on from its last revision, and every lease gets a
  // keep-alive now, through a member that answers, as its own stream may wait on the member that hangs
  // until the lease expired in etcd.
  #memberSetAside(endpoint: string): void {
    if (this.#closed) return
    for (const abandon of this.#inFlight)
      abandon(new Error(`etcd member ${endpoint} stopped answering while the transaction was in flight`))
    this.#inFlight.clear()
    // A failure to create it is reported by the new watcher's error listener.
    if (this.#watch !== undefined) void this.#follow().catch(() => {})
    const leases = [...this.#leases.values()].map((held) => held.lease)
    if (this.#registration !== undefined) leases.push(this.#registration)
    for (const lease of leases)
      void lease.keepaliveOnce({ deadline: Date.now() + ETCD_REQUEST_MS }).catch(() => {})
  }

  // A watch response: the events of one or more revisions, in order, none split across responses.
  #feed(response: IWatchResponse): void {
    const events = response.events
    let i = 0
    while (i < events.length) {
      const revision = Number(events[i]!.kv.mod_revision)
      const changes: WireChange[] = []
      let writer: Writer | undefined
      for (; i < events.length && Number(events[i]!.kv.mod_revision) === revision; i++) {
        const { kv, type } = events[i]!
        const put = type === 'Put'
        if (kv.key.equals(this.layout.tx)) writer = put ? readWriter(kv.value) : undefined
        else if (revision > this.store.revision && this.layout.gatewayOf(kv.key) !== undefined)
          this.#peerChanged(this.layout.gatewayOf(kv.key)!, put ? kv.value.toString() : undefined)
        // Deleted by someone (the prefix cleared by hand): compares of an absent key are against 0.
        else if (kv.key.equals(this.layout.keySpace))
          this.#keySpaceRevision = moved(this.#keySpaceRevision, revision, put)
        else if (kv.key.equals(this.#fenceKey)) this.#fence = moved(this.#fence, revision, put)
        else {
          const change = this.#change(kv, put, revision > this.store.revision)
          if (change !== undefined) changes.push(change)
        }
      }
      if (revision <= this.#lastEvent) continue // a resumed watch may repeat what it delivered
      const previous = this.#lastEvent
      this.#lastEvent = revision
      // Before the state read at start: for the history only. Its encoding names no origin.
      if (revision <= this.store.revision)
        this.history.push({ bytes: encode([revision, previous, changes]), retire() {} }, revision)
      else {
        const commit = { revision, previous, changes, writer }
        if (this.#consumer === undefined) this.#held.push(commit)
        else this.#consumer.commit(commit)
      }
      let done = 0
      while (done < this.#waiting.length && this.#waiting[done]!.revision <= revision)
        this.#waiting[done++]!.resolve()
      if (done > 0) this.#waiting = this.#waiting.slice(done)
    }
    if (this.#consumer !== undefined) this.#consumer.batch()
  }

  #peerChanged(id: string, address: string | undefined): void {
    if (id === this.id) {
      if (address === undefined) this.#registrationLost(this.#registration, 'its key was deleted')
      return
    }
    if (address === undefined) this.#peers.delete(id)
    else this.#peers.set(id, address)
    this.#consumer?.peer(id, address)
  }

  // `live`: a revision past the state read at start (not one the history replays), whose unreadable
  // value replaces what the key held: for zstate the key is then absent (deleted, if it was there).
  #change(kv: IKeyValue, put: boolean, live: boolean): WireChange | undefined {
    let key: string | undefined
    try {
      key = this.layout.keyOf(kv.key)
      if (key === undefined) return undefined
      // Nearly always empty: no Map lookup per change for it.
      if (live && this.unreadable.size > 0) this.unreadable.delete(key)
      if (!put) return [key, ChangeKind.DELETE]
      const { value, lease } = decodeValue(kv.value)
      return lease === undefined ? [key, ChangeKind.SET, value] : [key, ChangeKind.SET, value, lease]
    } catch (error) {
      // The history before the state read replays what that read already warned of.
      if (!live) return undefined
      skipped(kv, error)
      if (key === undefined) return undefined
      this.unreadable.set(key, Number(kv.mod_revision))
      return this.store.has(key) ? [key, ChangeKind.DELETE] : undefined
    }
  }
}

// The state under the prefix at one revision, page by page, and the revision that last changed the
// key space.
async function readState(
  client: Etcd3,
  layout: Layout,
): Promise<{ store: Store; keySpace: number; peers: Map<string, string>; unreadable: Map<string, number> }> {
  const first = await client.kv.txn({
    success: [
      { request_range: { key: layout.keySpace } },
      { request_range: { key: layout.keys, range_end: layout.keysEnd, limit: PAGE_KEYS } },
      { request_range: { key: layout.gateways, range_end: layout.gatewaysEnd } },
    ],
  })
  const peers = new Map<string, string>()
  for (const kv of first.responses[2]!.response_range.kvs)
    peers.set(layout.gatewayOf(kv.key)!, kv.value.toString())
  const revision = Number(first.header.revision)
  // Every gateway of one etcd cluster and prefix shares the epoch: clients move between them freely.
  const epoch = createHash('sha256')
    .update(`${first.header.cluster_id}/${layout.prefix}`)
    .digest('hex')
    .slice(0, 16)
  const store = new Store(epoch)
  const keySpaceKv = first.responses[0]!.response_range.kvs[0]
  const unreadable = new Map<string, number>()
  let page = first.responses[1]!.response_range
  for (;;) {
    for (const kv of page.kvs) {
      let key: string | undefined
      try {
        key = layout.keyOf(kv.key)
        if (key === undefined) continue
        const { value, lease } = decodeValue(kv.value)
        store.restore(key, Number(kv.mod_revision), encode(value), lease)
      } catch (error) {
        skipped(kv, error)
        if (key !== undefined) unreadable.set(key, Number(kv.mod_revision))
      }
    }
    if (!page.more || page.kvs.length === 0) break
    const after = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.of(0)])
    page = await client.kv.range({ key: after, range_end: layout.keysEnd, limit: PAGE_KEYS, revision })
  }
  store.restoreRevision(revision)
  return {
    store,
    keySpace: keySpaceKv === undefined ? 0 : Number(keySpaceKv.mod_revision),
    peers,
    unreadable,
  }
}

// Where the history of a gateway that read the state at `revision` starts: up to `revisions` back,
// but not before etcd's compaction (a historical read there fails), found by bisection.
async function historyStart(
  client: Etcd3,
  layout: Layout,
  revision: number,
  revisions: number,
): Promise<number> {
  const readable = (at: number): Promise<boolean> =>
    client.kv.range({ key: layout.tx, revision: at, count_only: true }).then(
      () => true,
      () => false,
    )
  let low = Math.max(1, revision - revisions + 1)
  if (low > revision || (await readable(low))) return low
  // low is compacted and revision is not (the state was just read there): the first readable lies between.
  let high = revision
  while (low + 1 < high) {
    const middle = Math.floor((low + high) / 2)
    if (await readable(middle)) high = middle
    else low = middle
  }
  return high
}

// An etcd key under the prefix that something other than a gateway wrote, and no zstate client could
// read: left out of the state.
function skipped(kv: IKeyValue, error: unknown): void {
  const key = kv.key.toString()
  const named = key.length > SKIPPED_KEY_CHARS ? `${key.slice(0, SKIPPED_KEY_CHARS)}…` : key
  process.emitWarning(
    `zstate: etcd key ${JSON.stringify(named)} (${kv.key.length} bytes) holds no zstate key and value (${(error as Error).message}): skipped`,
  )
}
// How much of a skipped key its warning shows: enough to find it, not kilobytes of it.
const SKIPPED_KEY_CHARS = 120

// The revision a compare expects of one of the gateway's own keys after an event at `revision`: the
// newest put's, or 0 (absent) after a deletion newer than it.
function moved(current: number, revision: number, put: boolean): number {
  if (put) return Math.max(current, revision)
  return revision > current ? 0 : current
}

function readWriter(bytes: Buffer): Writer | undefined {
  try {
    const decoded = decodeStrict(bytes)
    if (Array.isArray(decoded) && typeof decoded[0] === 'string' && typeof decoded[1] === 'number')
      return { gateway: decoded[0], write: decoded[1] }
  } catch {
    // not a gateway's: no origin
  }
  return undefined
}

// `request` tried until it succeeds, a pause between tries, until `deadline`: a member that went down
// is not etcd down, and the client's next try goes to another one. Rejects with the last error. A try
// is given up at the deadline, whatever its own: one that meets a member's circuit breaker half open
// waits for that breaker's test request, whose deadline may be later (a write's 5 s).
async function tried<T>(deadline: number, request: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await byDeadline(request(), deadline)
    } catch (error) {
      // Refused credentials stay refused, however often they are tried.
      if (credentialsRefused(error) || Date.now() + RETRY_PAUSE_MS >= deadline) throw error
      await pause(RETRY_PAUSE_MS)
    }
  }
}

// `promise`, or `late()` at `deadline` (epoch ms) if it is still pending then; it is left to settle
// unheard (a fence put that etcd takes later only moves the fence, which the watch then reports).
async function byDeadline<T>(
  promise: Promise<T>,
  deadline: number,
  late = (): Error => new Error('no answer by its deadline'),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), deadline - Date.now())
  })
  promise.catch(() => {})
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

// What etcd's failures mean to a client: nothing applied (or, for a write in flight, unknown). etcd
// refusing the gateway's credentials (a wrong user or password, a user without the rights the prefix
// needs) is no outage: ERR_UNAUTHORIZED.
export function unavailable(error: unknown, what: string): ZStateError {
  if (error instanceof ZStateError) return error
  if (credentialsRefused(error))
    return new ZStateError(
      ErrorCode.UNAUTHORIZED,
      `${what}: etcd refused the gateway's credentials: ${(error as Error).message}`,
      { cause: error },
    )
  return new ZStateError(ErrorCode.UNAVAILABLE, `${what}: ${grpcMessage(error)}`, { cause: error })
}

// gRPC's message without the empty "Resolution note: " it may end with.
function grpcMessage(error: unknown): string {
  return (error as Error).message.replace(/[\s.;,]*Resolution note:\s*$/, '')
}

const CREDENTIALS_REFUSED = new Set([
  'EtcdAuthenticationFailedError',
  'EtcdPermissionDeniedError',
  'EtcdUserNotFoundError',
  'GRPCUnauthenticatedError',
])

// etcd's words where auth is on and no user was given, or a user was given and auth is off.
const AUTH_MISMATCH = /user name is empty|authentication is not enabled/

export function credentialsRefused(error: unknown): boolean {
  return (
    CREDENTIALS_REFUSED.has((error as object | null)?.constructor?.name ?? '') ||
    AUTH_MISMATCH.test(String((error as Error | null)?.message))
  )
}

export type { WireLease }

// Waits for `promise`, at most `ms`: ERR_UNAVAILABLE after that.
export function within(promise: Promise<void>, ms: number): Promise<void> {
  const late = (): Error =>
    new ZStateError(ErrorCode.UNAVAILABLE, `etcd's changes did not reach this gateway within ${ms} ms`)
  return byDeadline(promise, Date.now() + ms, late)
}
