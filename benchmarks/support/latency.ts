import { nowUs } from './clock.ts'
import type { Side } from './processes.ts'
import { compare, PERCENTILES, Unit, type Comparison, type Distribution, type GoalOptions } from './report.ts'
import { interleaved } from './runs.ts'
import { median, percentile } from './stats.ts'

// One-way latency from this process (A) to a watcher side (B): A sends a stamped message, B reports
// when it saw it. Paced, one message in flight, so queueing never inflates the numbers.

export interface Stamp {
  readonly i: number
  readonly t: number
}

export interface Sample {
  readonly i: number
  readonly latencyUs: number
}

export function stamp(i: number): Stamp {
  return { i, t: nowUs() }
}

// Sends stamps firstI, firstI+1, … and returns B's latency for each after the first `warmup`.
// Samples for other numbers (duplicates of a liveness probe) are skipped.
export async function pacedLatency(
  watcher: Side,
  count: number,
  warmup: number,
  firstI: number,
  send: (s: Stamp) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = []
  for (let n = 0; n < warmup + count; n++) {
    const i = firstI + n
    const arrived = nextSample(watcher, i)
    await send(stamp(i))
    const { latencyUs } = await arrived
    if (n >= warmup) latencies.push(latencyUs)
  }
  return latencies
}

async function nextSample(watcher: Side, i: number): Promise<Sample> {
  for (;;) {
    const sample = await watcher.next<Sample>('sample')
    if (sample.i === i) return sample
  }
}

// Pub/sub loses what is sent before the subscription reaches the publisher (slow joiner): probe with
// stamp `i` until the watcher reports one.
export async function waitUntilSubscribed(
  watcher: Side,
  i: number,
  send: (s: Stamp) => Promise<unknown>,
): Promise<void> {
  const seen = nextSample(watcher, i)
  let done = false
  void seen.then(() => (done = true))
  const deadline = Date.now() + 10_000
  while (!done) {
    if (Date.now() > deadline) throw new Error('the watcher never saw a probe within 10 s')
    await send(stamp(i))
    await Promise.race([seen, new Promise((resolve) => setTimeout(resolve, 10))])
  }
}

// Paced zstate latencies (A → B) interleaved with the raw relay's, as p50 and p99 comparisons and
// their distributions.
export async function latencyAgainstRelay(
  watcher: Side,
  relay: { latencies(count: number, warmup: number): Promise<number[]> },
  count: number,
  warmup: number,
  send: (s: Stamp) => Promise<unknown>,
  goals: { p50?: GoalOptions; p99?: GoalOptions } = {},
): Promise<{ comparisons: Comparison[]; distribution: Distribution }> {
  let next = 0
  const r = await interleaved({
    zstate: async () => {
      const first = next
      next += count + warmup
      return pacedLatency(watcher, count, warmup, first, send)
    },
    relay: () => relay.latencies(count, warmup),
  })
  const p = (q: number, runs: number[][]): number[] => runs.map((l) => percentile(l, q))
  const baseline = 'raw relay DEALER→ROUTER→PUB→SUB'
  const percentiles = (runs: number[][]): number[] => PERCENTILES.map((q) => median(p(q, runs)))
  return {
    comparisons: [
      compare('p50', Unit.us, p(50, r.zstate), baseline, p(50, r.relay), goals.p50),
      compare('p99', Unit.us, p(99, r.zstate), baseline, p(99, r.relay), goals.p99),
    ],
    distribution: {
      label: 'one-way latency',
      unit: Unit.us,
      series: [
        { name: 'zstate', values: percentiles(r.zstate) },
        { name: baseline, values: percentiles(r.relay) },
      ],
    },
  }
}
