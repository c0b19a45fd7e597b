import { startRelay } from './baselines/relay.ts'
import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { latencyAgainstRelay } from './support/latency.ts'
import { forkSide } from './support/processes.ts'
import { n } from './support/format.ts'
import { runScenario } from './support/scenario.ts'
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
    const { comparisons, distribution } = await latencyAgainstRelay(
      watcher,
      relay,
      count,
      warmup,
      (s) => state.set('ping', s),
      {
        op: '≤',
        ratio: 1.2,
        cause:
          'the per-write JavaScript of row (a) on the writer and the server, plus the watcher applying the commit and running its waiter; the p99 is not yet traced',
      },
    )
    return {
      id: 'watch-latency',
      title: '(d) Watch latency: state.set in process A → state.when resolves in process B',
      comparisons,
      distributions: [distribution],
      notes: [
        `${n(count)} paced messages per run (one in flight) after ${n(warmup)} warm-up; server, A and B are separate processes`,
      ],
    }
  } finally {
    await watcher.stop()
  }
})
