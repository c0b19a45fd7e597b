import { pack, unpack } from 'msgpackr'
import { Dealer } from 'zeromq'
import { keyOf } from '../support/values.ts'

// The least a client can do for a write: encode a request shaped like zstate's set ([[id, op, key,
// value]]), send it on a DEALER, wait for the reply and decode it. Both zeromq baselines use it.
export interface RawClient extends Disposable {
  request(i: number, value: unknown): Promise<unknown>
}

const SET = 6

export function rawClient(endpoint: string): RawClient {
  // sendTimeout 0, as zstate's sockets have it: zeromq.js then makes no readiness check per send.
  const dealer = new Dealer({ sendTimeout: 0 })
  dealer.connect(endpoint)
  return {
    async request(i, value) {
      await dealer.send(pack([[i, SET, keyOf(i), value]]))
      const [reply] = await dealer.receive()
      return reply === undefined ? undefined : unpack(reply)
    },
    [Symbol.dispose]: () => dealer.close(),
  }
}

// The value carried by a request, for the relay's subscriber.
export function valueOfRequest(body: Uint8Array): unknown {
  const [[, , , value]] = unpack(body) as [[number, number, string, unknown]]
  return value
}
