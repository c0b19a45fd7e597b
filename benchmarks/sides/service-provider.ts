import { connect, type Client } from '../../lib/index.ts'
import { serveSide } from '../support/processes.ts'

// A zstate client in its own process providing the 'bench' service: echo returns its argument.
let client: Client | undefined

serveSide(
  {
    async provide(address: string, concurrency: number) {
      client = await connect(address, { name: 'bench-provider' })
      await client.provide('bench', { echo: (value: unknown) => value }, { concurrency })
    },
  },
  () => client?.close(),
)
