// One joined connection to a server (DESIGN.md "Joining"): HELLO, a provably live subscription,
// then snapshots and history on request. A lost server means a new Link.
import { randomBytes } from 'node:crypto'
import { basename } from 'node:path'
import type { Dealer } from 'zeromq'
import { ErrorCode, ZStateError } from '../errors.ts'
import { Op, PROTOCOL_VERSION } from '../protocol/ops.ts'
import { Channel } from './channel.ts'
import { readCommits } from './commits.ts'
import { Feed } from './feed.ts'
import { sockets } from './sockets.ts'
import type { Metrics } from './metrics.ts'
import type { Snapshot } from './sync.ts'
import { adoptDecoded } from '../protocol/values.ts'
import type { WireCommit } from '../protocol/ops.ts'

export interface Hello {
  protocol: number
  version: string
  epoch: string
  revision: number
  pubEndpoint: string
  maxMessageBytes: number
  heartbeatMs: number
  // The topic PUB (messaging), as this client reaches it; undefined from a server without topics.
  topicEndpoint: string | undefined
}

export interface LinkOptions {
  address: string
  name: string | undefined
  requestTimeout: number
  metrics: Metrics
}

const ECHO_RETRY_MS = [5, 10, 20, 50, 100, 200]

export class Link {
  readonly channel: Channel
  readonly feed: Feed
  readonly hello: Hello
  readonly #dealer: Dealer
  // Bulk requests (history and snapshot pages) go one at a time, so each has the server's whole
  // reply budget (docs/protocol.md, Budgets) however many watchers replay at once.
  #bulk: Promise<unknown> = Promise.resolve()

  private constructor(dealer: Dealer, channel: Channel, feed: Feed, hello: Hello) {
    this.#dealer = dealer
    this.channel = channel
    this.feed = feed
    this.hello = hello
  }

  // Joins; `deadline` bounds the whole join. Rejects with ERR_TIMEOUT, ERR_PROTOCOL or ERR_CLOSED.
  static async open(options: LinkOptions, aborted: Promise<never>): Promise<Link> {
    const dealer = new sockets.Dealer({ linger: 0, ipv6: true })
    dealer.connect(options.address)
    const channel = new Channel(dealer, options.metrics, options.requestTimeout)
    let feed: Feed | undefined
    try {
      const token = randomBytes(8).toString('hex')
      const name = options.name ?? basename(process.argv[1] ?? 'node')
      const reply = await Promise.race([
        channel.request(Op.HELLO, [PROTOCOL_VERSION, token, process.pid, name]),
        aborted,
      ])
      const hello = readHello(reply, options.address)
      channel.maxMessageBytes = hello.maxMessageBytes
      feed = new Feed(pubEndpointFor(hello.pubEndpoint, options.address), token, options.metrics)
      let attempt = 0
      let echoed = false
      void feed.echoed.then(() => (echoed = true))
      while (!echoed) {
        await Promise.race([channel.request(Op.ECHO, [token]), aborted])
        const pause = ECHO_RETRY_MS[Math.min(attempt++, ECHO_RETRY_MS.length - 1)]!
        await Promise.race([feed.echoed, aborted, new Promise((resolve) => setTimeout(resolve, pause))])
      }
      return new Link(dealer, channel, feed, hello)
    } catch (error) {
      channel.fail(new ZStateError(ErrorCode.CLOSED, 'join abandoned'))
      feed?.close()
      dealer.close()
      throw error
    }
  }

  async snapshot(): Promise<Snapshot> {
    const entries: [string, unknown][] = []
    let cursor: number | null = null
    let epoch = ''
    let revision = 0
    do {
      const reply = await this.#bulkRequest(Op.SNAPSHOT, [cursor])
      const [pageEpoch, pageRevision, next, page] = reply
      if (typeof pageEpoch !== 'string' || typeof pageRevision !== 'number' || !Array.isArray(page))
        throw malformed('snapshot')
      if (cursor !== null && (pageEpoch !== epoch || pageRevision !== revision))
        throw malformed('snapshot continuation')
      epoch = pageEpoch
      revision = pageRevision
      for (const entry of page as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw malformed('snapshot entry')
        entries.push([entry[0], adoptDecoded(entry[1])])
      }
      cursor = typeof next === 'number' ? next : null
    } while (cursor !== null)
    return { epoch, revision, entries }
  }

  async history(from: number, to: number): Promise<{ epoch: string; commits: WireCommit[] }> {
    const [epoch, commits] = await this.#bulkRequest(Op.HISTORY, [from, to])
    if (typeof epoch !== 'string') throw malformed('history page')
    return { epoch, commits: readCommits(commits) }
  }

  #bulkRequest(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    const reply = this.#bulk.then(() => this.channel.request(op, args))
    this.#bulk = reply.catch(() => {})
    return reply
  }

  close(error: ZStateError): void {
    this.channel.fail(error)
    this.feed.close()
    this.#dealer.close()
  }
}

function malformed(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `server sent a malformed ${what}`)
}

function readHello(reply: unknown[], address: string): Hello {
  const [protocol, version, epoch, revision, pubEndpoint, maxMessageBytes, heartbeatMs, topicEndpoint] = reply
  if (protocol !== PROTOCOL_VERSION) {
    throw new ZStateError(
      ErrorCode.PROTOCOL,
      `server speaks protocol ${String(protocol)}, this client ${PROTOCOL_VERSION}`,
    )
  }
  if (
    typeof version !== 'string' ||
    typeof epoch !== 'string' ||
    typeof revision !== 'number' ||
    typeof pubEndpoint !== 'string' ||
    typeof maxMessageBytes !== 'number' ||
    typeof heartbeatMs !== 'number' ||
    (topicEndpoint !== undefined && typeof topicEndpoint !== 'string')
  ) {
    throw malformed('HELLO reply')
  }
  return {
    protocol,
    version,
    epoch,
    revision,
    pubEndpoint,
    maxMessageBytes,
    heartbeatMs,
    topicEndpoint: topicEndpoint === undefined ? undefined : pubEndpointFor(topicEndpoint, address),
  }
}

// A server bound to a wildcard host announces it; clients reach it by the host they dialled.
function pubEndpointFor(announced: string, address: string): string {
  const wildcard = /^tcp:\/\/(\*|0\.0\.0\.0|\[::\]):(\d+)$/.exec(announced)
  const dialled = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):/.exec(address)
  if (wildcard === null || dialled === null) return announced
  return `tcp://${dialled[1]}:${wildcard[2]}`
}
