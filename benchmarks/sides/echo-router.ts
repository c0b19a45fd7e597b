import { Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline server: a ROUTER that sends every message straight back, the floor under any request/reply.
const router = new Router()

async function echo(): Promise<void> {
  for await (const [identity, body] of router) {
    if (identity !== undefined && body !== undefined) await router.send([identity, body])
  }
}

serveSide(
  {
    async bind(endpoint: string) {
      await router.bind(endpoint)
      void echo().catch((error: unknown) => console.error('echo-router:', error))
    },
  },
  () => router.close(),
)
