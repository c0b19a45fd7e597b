import { startRelay } from './baselines/relay.ts'
import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { latencyAgainstRelay } from './support/latency.ts'
import { forkSide } from './support/processes.ts'
import { n } from './support/format.ts'
import { runScenario } from './support/scenario.ts'
import { startStatePair } from './support/zstate.ts'

// (d) A state.set in this process (A) until state.when resolves in process B, through the server in a
// third process, against the same three-process path built from raw sockets (goals: p50 ≤ 1.1×,
// p99 ≤ 1.5×).
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
        p50: {
          op: '≤',
          ratio: 1.1,
          cause:
            'a trace of the path (timestamps on the shared monotonic clock in all three processes): the server spends a median 70 µs from receiving the set to handing its commit to PUB (30 µs handling it, 8 µs packing the turn, 21 µs in the PUB send, which wakes libzmq’s I/O thread as the relay’s sends do: a raw send measured apart takes about 15 µs), and B 13–25 µs applying the commit and running its waiter; the relay does no work between its receive and its sends',
        },
        p99: {
          op: '≤',
          ratio: 1.5,
          cause:
            'the same trace: the slowest 2 % spend 1–7 ms in a socket hop (A → server or server → B: a process or I/O thread waiting to be scheduled on the 2 shared cores), none in a GC or in the server’s or B’s own work, which stay under 0.2 ms; the raw relay crosses the same hops',
        },
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
