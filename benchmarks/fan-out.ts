import { startRawFanout } from './baselines/raw-fanout.ts'
import { nowUs } from './support/clock.ts'
import { scaled } from './support/config.ts'
import { fanoutKey, type TallyReport } from './support/fanout.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { forkSide, stopAll, type Side } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { itemOf } from './support/values.ts'
import { startStatePair } from './support/zstate.ts'

// (d) Fan-out: one writer sends a burst of 100,000 changes and 8 watcher processes must each see every
// one, in order (goal: 0 lost; zstate's watchers repair gaps), at a delivery rate of at least 0.8× that
// of a raw PUB→8 SUB sending the same number of messages of the same shape (which drops at its
// high-water mark: its losses are reported too).
const WATCHERS = 8
const HIGH_WATER_MARK = 10_000 // the state server's default publishHighWaterMark, used for the raw PUB too
const COLLECT_TIMEOUT_MS = 60_000 // a watcher still short of the burst's last change by then has lost some

interface Outcome {
  readonly deliveriesPerSec: number // changes received, summed over the watchers, per second
  readonly lost: number // changes not received in order, summed over the watchers
  readonly complete: number // watchers that saw every change in order
  readonly errors: readonly string[]
}

// From the first change sent until the last watcher received its last change.
function summarise(reports: readonly TallyReport[], startUs: number, count: number): Outcome {
  const received = reports.reduce((sum, r) => sum + r.received, 0)
  const endUs = Math.max(...reports.map((r) => r.lastUs))
  return {
    deliveriesPerSec: endUs > startUs ? (received / (endUs - startUs)) * 1e6 : 0,
    lost: reports.reduce((sum, r) => sum + (count - r.inOrder), 0),
    complete: reports.filter((r) => r.inOrder === count).length,
    errors: reports.flatMap((r) => (r.error === undefined ? [] : [r.error])),
  }
}

runScenario(import.meta.url, async () => {
  const count = scaled(100_000)
  const warmup = scaled(10_000)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  await using raw = await startRawFanout(dir, HIGH_WATER_MARK)
  const watcher = new URL('./sides/fanout-watcher.ts', import.meta.url)
  const watchers: Side[] = []
  try {
    watchers.push(...(await Promise.all(Array.from({ length: WATCHERS }, () => forkSide(watcher)))))
    await Promise.all(watchers.map((w) => w.call('connect', zstate.server.address, raw.endpoint)))
    await raw.waitUntilSubscribed(watchers)
    const { state } = zstate.client

    // Change numbers run on across bursts, so nothing of an earlier burst can count in a later one.
    let next = 0
    const burst = async (kind: 'zstate' | 'raw', size: number): Promise<Outcome> => {
      const first = next
      next += size
      const last = first + size - 1
      await Promise.all(watchers.map((w) => w.call('expect', kind, first, size)))
      const collect = (): Promise<TallyReport[]> =>
        Promise.all(watchers.map((w) => w.call<TallyReport>('collect', kind, COLLECT_TIMEOUT_MS)))
      if (kind === 'zstate') {
        const startUs = nowUs()
        await Promise.all(
          Array.from({ length: size }, (_, k) => state.set(fanoutKey(first + k), itemOf(first + k))),
        )
        return summarise(await collect(), startUs, size)
      }
      const startUs = await raw.burst(first, size)
      const collected = collect()
      await raw.endUntil(last, collected)
      return summarise(await collected, startUs, size)
    }
    const contender = (kind: 'zstate' | 'raw') => async (): Promise<Outcome> => {
      await burst(kind, warmup)
      return burst(kind, count)
    }
    const r = await interleaved({ zstate: contender('zstate'), raw: contender('raw') })

    const errors = [...new Set(r.zstate.flatMap((o) => o.errors))]
    const baseline = `raw PUB→${WATCHERS} SUB, ${n(count)} messages, high-water mark ${n(HIGH_WATER_MARK)}`
    return {
      id: 'fan-out',
      title: `(d) Fan-out: a ${n(count)}-change burst from one writer to ${WATCHERS} watcher processes`,
      comparisons: [
        compare(
          `lost changes, all ${WATCHERS} watchers`,
          Unit.count,
          r.zstate.map((o) => o.lost),
          baseline,
          r.raw.map((o) => o.lost),
          { op: '≤', value: 0 },
        ),
        compare(
          `delivery rate (changes received/s, all ${WATCHERS} watchers)`,
          Unit.opsPerSec,
          r.zstate.map((o) => o.deliveriesPerSec),
          baseline,
          r.raw.map((o) => o.deliveriesPerSec),
          { op: '≥', ratio: 0.8 },
        ),
      ],
      notes: [
        `per run: a burst of ${n(count)} changes after a ${n(warmup)}-change warm-up burst, to ${WATCHERS} ` +
          'watcher processes; the writer, the server and the watchers are separate processes',
        'zstate: the writer (this process) starts all its `state.set` calls at once, one revision each, on ' +
          '1,000 keys in rotation with ~107-byte values; each watcher counts what `state.watch({ prefix })` ' +
          'yields, which repairs gaps from the server’s history',
        `raw: one PUB process publishes ${n(count)} messages, each shaped like a zstate commit of one set ` +
          `(the same keys and values), as fast as send() allows, with a send high-water mark of ` +
          `${n(HIGH_WATER_MARK)} (zstate’s default); each watcher’s SUB (default receive high-water mark, ` +
          'as zstate’s) counts what arrives; no write path, no gap repair',
        'lost: changes a watcher did not receive in order (missing, or older than one already seen), summed ' +
          'over the watchers; a watcher counts as done when the burst’s last change arrives, or after ' +
          `${COLLECT_TIMEOUT_MS / 1_000} s`,
        'delivery rate: changes received, summed over the watchers, ÷ time from the first change sent to the ' +
          'last watcher’s last change; zstate’s clock starts before the writer’s first set, so it includes the ' +
          'write path, while the raw publisher’s starts at its first send',
        `watchers with every change in order, per run: zstate ${r.zstate.map((o) => o.complete).join(', ')}; ` +
          `raw ${r.raw.map((o) => o.complete).join(', ')} (of ${WATCHERS})` +
          (errors.length > 0 ? `; zstate watchers stopped by: ${errors.join('; ')}` : ''),
      ],
    }
  } finally {
    await stopAll(watchers)
  }
})
