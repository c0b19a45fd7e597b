import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { serveSide } from '../support/processes.ts'

const { connect } = zstatePackage

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
