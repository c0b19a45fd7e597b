import { startServer, type Server } from '../../lib/index.ts'
import { memoryNow } from '../support/memory.ts'
import { serveSide } from '../support/processes.ts'

// A zstate server in its own process, as in production.
let server: Server | undefined

serveSide(
  {
    async start(address: string, actions?: string) {
      server = await startServer({ address, ...(actions === undefined ? {} : { actions }) })
      return server.address
    },
    memory: () => memoryNow(),
  },
  () => server?.close(),
)
