import { setTimeout as sleep } from 'node:timers/promises'
import type { IpcDir } from '../support/ipc.ts'
import { forkSide, type Side } from '../support/processes.ts'

// Raw PUB→N SUB: a publisher process (benchmarks/sides/fanout-publisher.ts) and the SUB sockets of the
// fan-out watcher processes. The floor under "one writer's burst reaches every watcher", without the
// write path and without gap repair: what PUB drops at its high-water mark is lost.
export interface RawFanout extends AsyncDisposable {
  readonly endpoint: string
  // Publishes changes first..first+count-1; resolves with the time the first was sent.
  burst(first: number, count: number): Promise<number>
  // Sends the end marker of the burst ending at `last` every few ms until `collected` settles.
  endUntil(last: number, collected: Promise<unknown>): Promise<void>
  // Slow joiner: probes until every subscriber has reported a probe.
  waitUntilSubscribed(subscribers: readonly Side[]): Promise<void>
}

export async function startRawFanout(dir: IpcDir, highWaterMark: number): Promise<RawFanout> {
  const endpoint = dir.endpoint('fan-out')
  const publisher = await forkSide(new URL('../sides/fanout-publisher.ts', import.meta.url))
  await publisher.call('bind', endpoint, highWaterMark)
  // Repeats `step` every few ms until `settled` settles (true) or `timeoutMs` passes (false).
  const untilSettled = async (
    settled: Promise<unknown>,
    step: () => Promise<unknown>,
    timeoutMs = Infinity,
  ): Promise<boolean> => {
    let done = false
    const watched = settled.then(
      () => (done = true),
      () => (done = true),
    )
    const deadline = Date.now() + timeoutMs
    while (!done) {
      if (Date.now() > deadline) return false
      await step()
      await Promise.race([watched, sleep(5)])
    }
    return true
  }
  let token = 0
  return {
    endpoint,
    burst: (first, count) => publisher.call<number>('burst', first, count),
    async endUntil(last, collected) {
      await untilSettled(collected, () => publisher.call('end', last))
    },
    async waitUntilSubscribed(subscribers) {
      const probe = token++
      const seen = Promise.all(
        subscribers.map(async (side) => {
          while ((await side.next<number>('probe')) !== probe);
        }),
      )
      if (!(await untilSettled(seen, () => publisher.call('probe', probe), 10_000)))
        throw new Error('the raw subscribers never saw a probe within 10 s')
      await seen
    },
    [Symbol.asyncDispose]: () => publisher.stop(),
  }
}
