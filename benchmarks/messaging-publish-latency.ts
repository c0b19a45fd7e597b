import { startRelay } from './baselines/relay.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { latencyAgainstRelay } from './support/latency.ts'
import { forkSide } from './support/processes.ts'
import { runScenario } from './support/scenario.ts'
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
    const { comparisons, distribution } = await latencyAgainstRelay(subscriber, relay, count, warmup, (s) =>
      client.publish('bench/ping', s),
    )
    return {
      id: 'messaging-publish-latency',
      title: '(m3) Topic latency: client.publish in process A → subscription yields in process B',
      comparisons,
      distributions: [distribution],
      notes: [
        `${n(count)} paced messages per run (one in flight) after ${n(warmup)} warm-up; server, A and B are separate processes`,
        'the subscription is ready (its prefix proven live by an echo) before the first message',
      ],
    }
  } finally {
    await subscriber.stop()
  }
})
