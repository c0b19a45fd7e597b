import { forkSide, stopAll } from '../support/processes.ts'
import type { IpcDir } from '../support/ipc.ts'
import { pacedLatency, waitUntilSubscribed, type Stamp } from '../support/latency.ts'
import { rawClient } from './raw-client.ts'

// Raw relay DEALER→ROUTER→PUB→SUB: this process sends a stamped message to a relay process, which
// publishes it to a SUB in a third process. The floor under "a write in A wakes a watcher in B".
export interface Relay extends AsyncDisposable {
  // One-way latencies in µs of `count` paced messages after `warmup` unrecorded ones.
  latencies(count: number, warmup: number): Promise<number[]>
}

export async function startRelay(dir: IpcDir): Promise<Relay> {
  const requests = dir.endpoint('relay')
  const changes = dir.endpoint('relay-pub')
  const relay = await forkSide(new URL('../sides/relay.ts', import.meta.url))
  const watcher = await forkSide(new URL('../sides/subscriber.ts', import.meta.url))
  await relay.call('bind', requests, changes)
  await watcher.call('connect', changes)
  const client = rawClient(requests)
  const send = (s: Stamp): Promise<unknown> => client.request(s.i, s)
  let next = 0
  await waitUntilSubscribed(watcher, next++, send)
  return {
    async latencies(count, warmup) {
      const first = next
      next += count + warmup
      return pacedLatency(watcher, count, warmup, first, send)
    },
    async [Symbol.asyncDispose]() {
      client[Symbol.dispose]()
      await stopAll([watcher, relay])
    },
  }
}
