import { startForwarding } from './baselines/forwarding.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { forkSide } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { itemOf } from './support/values.ts'
import { startStatePair } from './support/zstate.ts'

// (m1) One caller awaiting each client.call before the next, to a provider in another process through
// the server in a third: the fixed cost of a service call, against the same four hops over raw
// DEALER→ROUTER→DEALER forwarding (goal ≥ 0.8×).
runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using forwarding = await startForwarding(dir)
  const provider = await forkSide(new URL('./sides/service-provider.ts', import.meta.url))
  try {
    await provider.call('provide', zstate.server.address, 64)
    const { client } = zstate
    await client.waitForService('bench', { timeout: 10_000 })
    const measure = (op: (i: number) => Promise<unknown>) => async (): Promise<Latencies> => {
      await sequential(warmup, op)
      return sequential(count, op)
    }
    const r = await interleaved({
      zstate: measure((i) => client.call('bench', 'echo', [itemOf(i)])),
      raw: measure((i) => forwarding.client.request(i, itemOf(i))),
    })
    const baseline = 'raw DEALER→ROUTER→DEALER forwarding'
    return {
      id: 'messaging-call-sequential',
      title: '(m1) Sequential awaited client.call, one caller, one provider',
      comparisons: [
        compare(
          'throughput',
          Unit.opsPerSec,
          r.zstate.map((l) => l.opsPerSec),
          baseline,
          r.raw.map((l) => l.opsPerSec),
          { op: '≥', ratio: 0.8 },
        ),
        compare(
          'p50 latency',
          Unit.us,
          r.zstate.map((l) => l.p50Us),
          baseline,
          r.raw.map((l) => l.p50Us),
        ),
        compare(
          'p99 latency',
          Unit.us,
          r.zstate.map((l) => l.p99Us),
          baseline,
          r.raw.map((l) => l.p99Us),
        ),
      ],
      notes: [
        `${n(count)} awaited calls per run after ${n(warmup)} warm-up; the handler returns its ~107-byte argument`,
        'caller, server (broker) and provider are three processes; so are caller, forwarder and provider of the baseline',
        'both take four messages per call: caller→server, server→provider, provider→server, server→caller; the baseline decodes and re-encodes in the provider and decodes in the caller, and forwards bytes untouched',
      ],
    }
  } finally {
    await provider.stop()
  }
})
