// One joined connection to a server (docs/architecture.md "Joining"): HELLO, a provably live subscription,
// then snapshots and history on request. A lost server means a new Link.
import { basename } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Dealer } from 'zeromq'
import { abortable } from '../abort.ts'
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { uniqueToken } from '../unique-token.ts'
import { keyProof } from '../protocol/key-proof.ts'
import { Op, PROTOCOL_VERSION, type WireCommit } from '../protocol/ops.ts'
import { Channel } from './channel.ts'
import { awaitEcho } from './echo.ts'
import { Feed } from './feed.ts'
import { Pushes } from './pushes.ts'
import {
  readCommitPage,
  readHello,
  readSnapshotPage,
  malformed,
  type Acknowledgement,
  type Hello,
} from './replies.ts'
import {
  watchConnection,
  sendFailureReason,
  socketOptions,
  unlessRefused,
  type CurveCredentials,
} from './handshake.ts'
import { debug } from '../debug.ts'
import { sockets } from './sockets.ts'
import { connectSocket } from '../zmq.ts'
import type { Traffic } from './traffic.ts'

export interface LinkOptions {
  address: string
  name: string | undefined
  requestTimeout: number
  traffic: Traffic
  // Key prefixes of a partial replica (HELLO's fifth argument); undefined: everything, on PUB.
  replicate: readonly string[] | undefined
  curve: CurveCredentials | undefined
  // The token of the context child this client runs in (HELLO's seventh argument): its parent sends
  // it in CHILD_GONE once the child has exited, and the server ends the session then; undefined: none.
  childToken: string | undefined
  // Other addresses to try: an attempt whose connection fails (nothing listens) ends at once.
  moveOn: boolean
}

// The longest pause before a snapshot the server had no room for is asked for again.
const SNAPSHOT_RETRY_MAX_MS = 500

// The whole store at one revision.
export interface Snapshot {
  epoch: string
  revision: number
  entries: [string, unknown][]
  // This session's writes the snapshot covers, their commits perhaps missed.
  acks: Acknowledgement[]
}

export class Link {
  readonly channel: Channel
  // Where commits arrive: the change stream (PUB) of a full replica, or a partial one's pushes.
  readonly feed: Feed | undefined
  readonly pushes: Pushes | undefined
  readonly hello: Hello
  // Options for every socket on this server (messaging's topic feed too).
  readonly socketOptions: ReturnType<typeof socketOptions>
  readonly #dealer: Dealer
  // Bulk requests (history and snapshot pages) go one at a time, so each has the server's whole
  // reply budget (docs/protocol.md, Budgets) however many watchers replay at once.
  #bulk: Promise<unknown> = Promise.resolve()

  private constructor(
    dealer: Dealer,
    channel: Channel,
    source: Feed | Pushes,
    hello: Hello,
    options: ReturnType<typeof socketOptions>,
  ) {
    this.socketOptions = options
    this.#dealer = dealer
    this.channel = channel
    this.feed = source instanceof Feed ? source : undefined
    this.pushes = source instanceof Pushes ? source : undefined
    this.hello = hello
  }

  // Joins. Rejects with ERR_TIMEOUT or ERR_PROTOCOL, or with signal.reason once `signal` aborts; a
  // join that fails leaves nothing open.
  static async open(options: LinkOptions, signal: AbortSignal): Promise<Link> {
    signal.throwIfAborted()
    const secure = socketOptions(options.curve)
    // sendTimeout 0: zeromq.js then makes no readiness check (a zmq_getsockopt) before each send. No
    // send high-water mark: what the channel sends is queued in libzmq, so a send never waits or fails
    // for room, and the channel sends without awaiting anything (lib/link/channel.ts).
    const dealer = new sockets.Dealer({ ...secure, sendTimeout: 0, sendHighWaterMark: 0 })
    // A refused handshake fails the join at once (ERR_UNAUTHORIZED), not after its timeout; so does a
    // failed connection (ERR_DISCONNECTED) when there are other addresses to try.
    const { refused, unreachable } = watchConnection(dealer, options.address, options.curve !== undefined)
    connectSocket(dealer, options.address)
    const channel = new Channel(dealer, options.traffic, options.requestTimeout, (error) =>
      sendFailureReason(refused, options.address, error),
    )
    // A partial replica subscribes to nothing: its commits come as pushes, from its HELLO on.
    const pushes = options.replicate === undefined ? undefined : new Pushes(channel)
    let feed: Feed | undefined
    try {
      const token = uniqueToken()
      const name = options.name ?? basename(process.argv[1] ?? 'node')
      const args: unknown[] = [PROTOCOL_VERSION, token, process.pid, name]
      const { replicate, curve, childToken } = options
      if (replicate !== undefined || curve !== undefined || childToken !== undefined)
        args.push(replicate ?? null)
      // On a curve server: the client key this session holds (services are owned per key).
      if (curve !== undefined) args.push([curve.publicKey, keyProof(curve, curve.serverKey, token)])
      else if (childToken !== undefined) args.push(null)
      if (childToken !== undefined) args.push(childToken)
      const answer = unlessRefused(channel.request(Op.HELLO, args), refused)
      const reply = await abortable(options.moveOn ? Promise.race([answer, unreachable]) : answer, signal)
      const hello = readHello(reply, options.address)
      debug(
        'joined %s: epoch %s, revision %d, session %d',
        options.address,
        hello.epoch,
        hello.revision,
        hello.session,
      )
      channel.maxMessageBytes = hello.maxMessageBytes
      channel.inParts = true
      if (pushes !== undefined) {
        pushes.start(hello.epoch, hello.revision)
        return new Link(dealer, channel, pushes, hello, secure)
      }
      const joined = new Feed(hello.pubEndpoint, token, options.traffic, secure)
      feed = joined
      await awaitEcho(() => channel.request(Op.ECHO, [token]), joined.echoed, signal)
      return new Link(dealer, channel, joined, hello, secure)
    } catch (error) {
      channel.fail(new ZStateError(ErrorCode.CLOSED, 'join abandoned'))
      feed?.close()
      dealer.close()
      throw error
    }
  }

  // When the server was last heard from: a reply, a push, or anything on the change stream.
  get lastHeard(): number {
    return Math.max(this.feed?.lastHeard ?? 0, this.channel.lastHeard)
  }

  // The revision the replica has applied, set by whoever follows this link: each ping tells the
  // server, which then forgets the acknowledgements it covers (lib/server/acks.ts).
  applied: () => number = () => 0

  // A client heartbeat: the server forgets a session it has not heard from for a while.
  ping(): void {
    void this.channel.request(Op.PING, [this.applied()]).catch(() => {})
  }

  // The store in pages. The server holds a bounded number of snapshots in progress for all its clients
  // (lib/server/snapshot-holds.ts): when it has no room (ERR_OVERFLOW), this one starts again a moment
  // later, until it gets one or the link fails.
  async snapshot(): Promise<Snapshot> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#snapshotPages()
      } catch (error) {
        if (!isZStateError(error) || error.code !== ErrorCode.OVERFLOW) throw error
        debug('snapshot: no room at the server (%s); again', error.message)
        await sleep(Math.min(SNAPSHOT_RETRY_MAX_MS, 2 ** attempt * 10) * (0.5 + Math.random()))
      }
    }
  }

  async #snapshotPages(): Promise<Snapshot> {
    const first = readSnapshotPage(await this.#bulkRequest(Op.SNAPSHOT, [null]))
    const { epoch, revision, entries, acks } = first
    for (let cursor = first.next; cursor !== null;) {
      const page = readSnapshotPage(await this.#bulkRequest(Op.SNAPSHOT, [cursor]))
      if (page.epoch !== epoch || page.revision !== revision) throw malformed('snapshot continuation')
      for (const entry of page.entries) entries.push(entry)
      cursor = page.next
    }
    return { epoch, revision, entries, acks }
  }

  async history(from: number, to: number): Promise<{ epoch: string; commits: WireCommit[] }> {
    return readCommitPage(await this.#bulkRequest(Op.HISTORY, [from, to]), 'history page')
  }

  #bulkRequest(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    const reply = this.#bulk.then(() => this.channel.request(op, args))
    this.#bulk = reply.catch(() => {})
    return reply
  }

  close(error: ZStateError): void {
    this.channel.fail(error)
    this.feed?.close()
    this.pushes?.close()
    this.#dealer.close()
  }
}
