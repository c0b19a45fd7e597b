import { startForwarding } from './baselines/forwarding.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { inFlight } from './support/measure.ts'
import { forkSide } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { itemOf } from './support/values.ts'
import { startStatePair, type BenchClient } from './support/zstate.ts'

const CONCURRENCY = 1_000

// (m2) Many client.call in flight from one caller (Promise.all) to one provider: what batching on the
// client, group replies at the server and posting results in batches buy, against the same calls as
// one raw message each through a forwarding ROUTER.
function callAll(client: BenchClient, count: number): Promise<number> {
  return inFlight(count, () =>
    Promise.all(Array.from({ length: count }, (_, i) => client.call('bench', 'echo', [itemOf(i)]))),
  )
}

runScenario(import.meta.url, async () => {
  // At most CONCURRENCY run at the provider; the rest wait in the server's queue (bounded at 10,000).
  const count = Math.min(scaled(10_000), 10_000)
  const warmup = Math.min(1_000, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using forwarding = await startForwarding(dir)
  const provider = await forkSide(new URL('./sides/service-provider.ts', import.meta.url))
  try {
    await provider.call('provide', zstate.server.address, CONCURRENCY)
    await zstate.client.waitForService('bench', { timeout: 10_000 })
    const r = await interleaved({
      zstate: async () => {
        await callAll(zstate.client, warmup)
        return callAll(zstate.client, count)
      },
      raw: async () => {
        await inFlight(warmup, () => forwarding.pipelined(warmup, itemOf))
        return inFlight(count, () => forwarding.pipelined(count, itemOf))
      },
    })
    return {
      id: 'messaging-call-in-flight',
      title: `(m2) ${n(count)} client.call in flight from one caller`,
      comparisons: [
        compare(
          'throughput',
          Unit.opsPerSec,
          r.zstate,
          'raw forwarding, every request in flight, one message each',
          r.raw,
        ),
      ],
      notes: [
        `${n(count)} calls per run after ${n(warmup)} warm-up; the provider runs up to ${n(CONCURRENCY)} at once, the server queues the rest`,
        'zstate packs concurrent calls into one message per hop; the baseline sends one message per call, as a hand-written forwarder would',
      ],
    }
  } finally {
    await provider.stop()
  }
})
