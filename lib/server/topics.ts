// Topics at the server: a PUB socket of their own, so a topic flood never makes state subscribers drop
// changes (docs/protocol.md). At most once: PUB drops silently at its high-water mark.
import { Publisher } from '../zmq.ts'
import { ErrorCode, ZStateError } from '../errors.ts'
import { encode } from '../protocol/codec.ts'
import { isIpv6Endpoint } from '../protocol/address.ts'
import { isName } from '../protocol/names.ts'
import { adoptDecoded } from '../protocol/values.ts'
import { Op, TopicChannel } from '../protocol/ops.ts'
import { SendQueue } from '../send-queue.ts'
import { okReply } from './replies.ts'
import { TopicTally } from './topic-tally.ts'
import { toParts } from '../protocol/parts.ts'

// CURVE server options of the server's sockets (none without curve).
export interface SocketSecurity {
  curveServer?: boolean
  curveSecretKey?: string
  curvePublicKey?: string
  zapDomain?: string
}

export class Topics {
  readonly endpoint: string
  readonly #pub: Publisher
  readonly #sending: SendQueue
  readonly tally = new TopicTally()

  // Binds the topic PUB; the caller turns a bind failure into its own error.
  static async bind(endpoint: string, highWaterMark: number, secure: SocketSecurity): Promise<Topics> {
    const pub = new Publisher({
      sendHighWaterMark: highWaterMark,
      linger: 0,
      ipv6: isIpv6Endpoint(endpoint),
      ...secure,
    })
    try {
      await pub.bind(endpoint)
    } catch (error) {
      pub.close()
      throw error
    }
    return new Topics(pub, pub.lastEndpoint ?? endpoint)
  }

  private constructor(pub: Publisher, endpoint: string) {
    this.#pub = pub
    this.endpoint = endpoint
    this.#sending = new SendQueue(
      (message) => pub.send(message),
      () => {}, // PUB never blocks; a message it could not queue is lost (at most once)
    )
  }

  dispatch(id: number, op: unknown, args: unknown[]): Buffer {
    if (op === Op.PUBLISH) {
      const [topic, message] = args
      if (args.length !== 2 || !isName(topic))
        throw new ZStateError(ErrorCode.PROTOCOL, 'publish takes [topic, message]')
      // A message is a value as a SET's is: what a subscriber receives is what was sent, or nothing.
      const encoded = encode(adoptDecoded(message))
      this.#sending.push([TopicChannel.MESSAGE + topic, ...toParts(encoded)])
      this.tally.count(topic, encoded.length)
      return okReply(id, [])
    }
    const [token] = args
    if (args.length !== 1 || typeof token !== 'string' || !/^[0-9a-f]{8,64}$/.test(token))
      throw new ZStateError(ErrorCode.PROTOCOL, 'topic echo takes a token')
    this.#sending.push([TopicChannel.ECHO + token, ''])
    return okReply(id, [])
  }

  async close(): Promise<void> {
    await this.#sending.drained()
    this.#pub.close()
  }
}
