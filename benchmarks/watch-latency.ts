import { startRelay } from './baselines/relay.ts'
import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { pacedLatency } from './support/latency.ts'
import { forkSide } from './support/processes.ts'
import { n } from './support/format.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { interleaved } from './support/runs.ts'
import { percentile } from './support/stats.ts'
import { startStatePair } from './support/zstate.ts'

// (d) A state.set in this process (A) until state.when resolves in process B, through the server in a
// third process, against the same three-process path built from raw sockets (goal: p50 ≤ 1.2×).
runScenario(import.meta.url, async () => {
  const count = scaled(2_000)
  const warmup = Math.min(100, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using relay = await startRelay(dir)
  const watcher = await forkSide(new URL('./sides/state-client.ts', import.meta.url))
  try {
    await watcher.call('connect', zstate.server.address)
    await watcher.call('watch', 'ping')
    const { state } = zstate.client
    let next = 0
    const r = await interleaved({
      zstate: async () => {
        const first = next
        next += count + warmup
        return pacedLatency(watcher, count, warmup, first, (s) => state.set('ping', s))
      },
      relay: () => relay.latencies(count, warmup),
    })
    const p = (q: number, runs: number[][]): number[] => runs.map((l) => percentile(l, q))
    const baseline = 'raw relay DEALER→ROUTER→PUB→SUB'
    return {
      id: 'watch-latency',
      title: '(d) Watch latency: state.set in process A → state.when resolves in process B',
      comparisons: [
        compare('p50', Unit.us, p(50, r.zstate), baseline, p(50, r.relay), { op: '≤', ratio: 1.2 }),
        compare('p99', Unit.us, p(99, r.zstate), baseline, p(99, r.relay)),
      ],
      notes: [
        `${n(count)} paced messages per run (one in flight) after ${n(warmup)} warm-up; server, A and B are separate processes`,
      ],
    }
  } finally {
    await watcher.stop()
  }
})
