import { Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline server: a ROUTER that sends every message straight back, all its frames, the floor under
// any request/reply.
const router = new Router()

async function echo(): Promise<void> {
  for await (const message of router) {
    if (message.length >= 2) await router.send(message)
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
