import { Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline broker: a ROUTER that forwards each caller's message to the one provider (a DEALER whose
// routing id is 'provider') and each provider reply back to its caller. No decoding, no queueing:
// the floor under a call routed through a server. No high-water marks: a ROUTER drops what it cannot
// queue, and with thousands in flight both directions would fill up (zstate queues in memory too).
const router = new Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 })
const PROVIDER = Buffer.from('provider')
let providerSeen: (() => void) | undefined
const seen = new Promise<void>((resolve) => (providerSeen = resolve))

async function forward(): Promise<void> {
  for await (const [sender, first, second] of router) {
    if (sender === undefined || first === undefined) continue
    if (sender.equals(PROVIDER)) {
      if (second === undefined)
        providerSeen?.() // its hello
      else await router.send([first, second]) // [caller, reply] → caller
    } else await router.send([PROVIDER, sender, first])
  }
}

serveSide(
  {
    async bind(endpoint: string) {
      await router.bind(endpoint)
      void forward().catch((error: unknown) => console.error('forwarder:', error))
    },
    // Resolves once the provider has said hello, so nothing is sent to it before it is connected.
    providerReady: () => seen,
  },
  () => router.close(),
)
