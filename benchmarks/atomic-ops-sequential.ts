import { WRITE_PATH_CAUSE } from './set-sequential.ts'
import { startRoundTrip } from './baselines/round-trip.ts'
import { scaled } from './support/config.ts'
import { formatNumber, n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { median } from './support/stats.ts'
import { startStatePair } from './support/zstate.ts'

// (a) One client awaiting each state.increment, state.compareAndSet and state.run before the next:
// the fixed cost of the atomic writes, each against the bare DEALER→ROUTER round trip it rides on
// (goal ≥ 0.9×), as set-sequential.ts does for state.set. Every operation is checked: each must commit.
runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir, 'state', {
    actions: new URL('./sides/actions.ts', import.meta.url),
  })
  await using roundTrip = await startRoundTrip(dir)
  const { state } = zstate.client

  // One client and one key per operation: each call sees exactly the value its predecessor left.
  let incremented = 0
  const increment = async (): Promise<void> => {
    const got = await state.increment('increment')
    if (got !== ++incremented) throw new Error(`increment returned ${String(got)}, expected ${incremented}`)
  }
  let swapped: number | undefined
  const compareAndSet = async (): Promise<void> => {
    const next = (swapped ?? 0) + 1
    if (!(await state.compareAndSet('swap', swapped, next)))
      throw new Error(`compareAndSet(${String(swapped)} → ${next}) did not swap`)
    swapped = next
  }
  let ran = 0
  const run = async (): Promise<void> => {
    const got = await state.run('increment', 'run')
    if (got !== ++ran) throw new Error(`run('increment') returned ${String(got)}, expected ${ran}`)
  }

  // Each measurement warms its own path first, then times `count` operations.
  const measure = (op: (i: number) => Promise<unknown>) => async (): Promise<Latencies> => {
    await sequential(warmup, op)
    return sequential(count, op)
  }
  const r = await interleaved({
    increment: measure(increment),
    compareAndSet: measure(compareAndSet),
    run: measure(run),
    raw: measure((i) => roundTrip.client.request(i, i)),
  })
  const ops = (l: Latencies[]): number[] => l.map((x) => x.opsPerSec)
  const p50 = (l: Latencies[]): string => formatNumber(median(l.map((x) => x.p50Us)), Unit.us)
  const raw = 'raw DEALER→ROUTER round trip'
  const goal = { op: '≥', ratio: 0.9, cause: WRITE_PATH_CAUSE } as const
  return {
    id: 'atomic-ops-sequential',
    title: '(a) Sequential awaited increment, compareAndSet and run, one client',
    comparisons: [
      compare('increment: throughput', Unit.opsPerSec, ops(r.increment), raw, ops(r.raw), goal),
      compare('compareAndSet: throughput', Unit.opsPerSec, ops(r.compareAndSet), raw, ops(r.raw), goal),
      compare('run: throughput', Unit.opsPerSec, ops(r.run), raw, ops(r.raw), goal),
    ],
    notes: [
      `${n(count)} awaited operations of each kind per run, each after ${n(warmup)} warm-up operations; ` +
        'one key per kind, holding a small integer',
      'increment: `state.increment(key)`; compareAndSet: `state.compareAndSet(key, n, n + 1)`, always ' +
        "the current value, so every call swaps; run: `state.run('increment', key)`, an action of the " +
        "server's `actions` module (`benchmarks/sides/actions.ts`); every result is checked",
      'the raw round trip sends a request shaped like a write of a small integer ([[id, op, key, n]], ' +
        'msgpack) to a ROUTER in another process that echoes it; each zstate call costs that round trip ' +
        'plus the commit published to the writer’s own replica',
      `p50 latency (median over runs): increment ${p50(r.increment)}, compareAndSet ${p50(r.compareAndSet)}, ` +
        `run ${p50(r.run)}, raw round trip ${p50(r.raw)}`,
    ],
  }
})
