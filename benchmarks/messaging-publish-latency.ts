import { startRelay } from './baselines/relay.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { pacedLatency } from './support/latency.ts'
import { forkSide } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { percentile } from './support/stats.ts'
import { startStatePair } from './support/zstate.ts'

// (m3) client.publish in this process (A) until the message comes out of a subscription in process B,
// through the server in a third: against the same three-process path over raw sockets.
runScenario(import.meta.url, async () => {
  const count = scaled(2_000)
  const warmup = Math.min(100, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using relay = await startRelay(dir)
  const subscriber = await forkSide(new URL('./sides/topic-subscriber.ts', import.meta.url))
  try {
    await subscriber.call('subscribe', zstate.server.address, 'bench/')
    const { client } = zstate
    let next = 0
    const r = await interleaved({
      zstate: async () => {
        const first = next
        next += count + warmup
        return pacedLatency(subscriber, count, warmup, first, (s) => client.publish('bench/ping', s))
      },
      relay: () => relay.latencies(count, warmup),
    })
    const p = (q: number, runs: number[][]): number[] => runs.map((l) => percentile(l, q))
    const baseline = 'raw relay DEALER→ROUTER→PUB→SUB'
    return {
      id: 'messaging-publish-latency',
      title: '(m3) Topic latency: client.publish in process A → subscription yields in process B',
      comparisons: [
        compare('p50', Unit.us, p(50, r.zstate), baseline, p(50, r.relay)),
        compare('p99', Unit.us, p(99, r.zstate), baseline, p(99, r.relay)),
      ],
      notes: [
        `${n(count)} paced messages per run (one in flight) after ${n(warmup)} warm-up; server, A and B are separate processes`,
        'the subscription is ready (its prefix proven live by an echo) before the first message',
      ],
    }
  } finally {
    await subscriber.stop()
  }
})
