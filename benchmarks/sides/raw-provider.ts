import { pack, unpack } from 'msgpackr'
import { Dealer } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline provider: decodes each forwarded request and answers with its value, encoded, as a
// zstate provider does with a handler that returns its argument.
const dealer = new Dealer({
  routingId: 'provider',
  sendHighWaterMark: 0,
  receiveHighWaterMark: 0,
  sendTimeout: 0,
})

async function answer(): Promise<void> {
  for await (const [caller, body] of dealer) {
    if (caller === undefined || body === undefined) continue
    const [[id, , , value]] = unpack(body) as [[number, number, string, unknown]]
    await dealer.send([caller, pack([[id, 0, value]])])
  }
}

serveSide(
  {
    async connect(endpoint: string) {
      dealer.connect(endpoint)
      await dealer.send(Buffer.alloc(0)) // hello: the forwarder learns our routing id
      void answer().catch((error: unknown) => console.error('raw-provider:', error))
    },
  },
  () => dealer.close(),
)
