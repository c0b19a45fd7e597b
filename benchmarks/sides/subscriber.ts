import { Subscriber } from 'zeromq'
import { nowUs } from '../support/clock.ts'
import { emit, serveSide } from '../support/processes.ts'
import type { Stamp } from '../support/latency.ts'
import { valueOfRequest } from '../baselines/raw-client.ts'

// Baseline watcher (process B of the relay baseline): reports how long each stamped message took to
// arrive from process A through the relay.
const subscriber = new Subscriber()

async function receive(): Promise<void> {
  for await (const [body] of subscriber) {
    if (body === undefined) continue
    const stamp = valueOfRequest(body) as Stamp
    emit('sample', { i: stamp.i, latencyUs: nowUs() - stamp.t })
  }
}

serveSide(
  {
    connect(endpoint: string) {
      subscriber.connect(endpoint)
      subscriber.subscribe()
      void receive().catch((error: unknown) => console.error('subscriber:', error))
    },
  },
  () => subscriber.close(),
)
