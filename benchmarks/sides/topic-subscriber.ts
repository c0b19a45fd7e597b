import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { nowUs } from '../support/clock.ts'
import type { Stamp } from '../support/latency.ts'
import { emit, serveSide } from '../support/processes.ts'

const { connect } = zstatePackage

// A zstate client in its own process (process B of the publish benchmark): reports how long each
// stamped topic message took to arrive.
let client: Client | undefined

serveSide(
  {
    async subscribe(address: string, prefix: string) {
      client = await connect(address, { name: 'bench-subscriber' })
      const subscription = client.subscribe<Stamp>(prefix)
      await subscription.ready
      void (async () => {
        for await (const { message } of subscription)
          emit('sample', { i: message.i, latencyUs: nowUs() - message.t })
      })()
    },
  },
  () => client?.close(),
)
