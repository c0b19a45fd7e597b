import { Publisher, Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline server for change propagation: a ROUTER whose every message is published on PUB and then
// acknowledged to its sender, as a state server does with a write.
const router = new Router({ sendTimeout: 0 })
const publisher = new Publisher()

async function relay(): Promise<void> {
  for await (const [identity, body] of router) {
    if (identity === undefined || body === undefined) continue
    await publisher.send(body)
    await router.send([identity, body])
  }
}

serveSide(
  {
    async bind(requests: string, changes: string) {
      await router.bind(requests)
      await publisher.bind(changes)
      void relay().catch((error: unknown) => console.error('relay:', error))
    },
  },
  () => {
    router.close()
    publisher.close()
  },
)
