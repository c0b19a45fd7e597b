import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { tightLoop } from './support/measure.ts'
import { n } from './support/format.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { interleaved } from './support/runs.ts'
import { fill, keyOf } from './support/values.ts'
import { startStatePair } from './support/zstate.ts'

// (c) state.get on a replica of 100,000 keys against Map.get on a Map of the same keys and values
// (goal ≥ 0.5×): reads are local and should cost little more than the Map underneath.
runScenario(import.meta.url, async () => {
  const size = scaled(100_000)
  const lookupCount = scaled(5_000_000, 100_000)
  await using dir = await ipcDir()
  await using zstate = await startStatePair(dir)
  const { state } = zstate.client
  await fill((values) => state.update(values), size)
  if (state.size !== size) throw new Error(`replica holds ${state.size} keys, expected ${size}`)

  // Everyone walks the same lookup strings in the same scattered order (a multiplicative stride). The
  // Maps hold their own key strings, as a user's Map would: a lookup never hits the same string object.
  const lookupKeys = Array.from({ length: size }, (_, i) => keyOf((i * 7_919) % size))
  const map = new Map(Array.from({ length: size }, (_, i) => [keyOf(i), state.get(keyOf(i))]))
  // Same entries, same key strings as the replica: isolates the cost of the state.get call itself.
  const replicaCopy = new Map(state.entries())
  const perSecond = (nsPerOp: number): number => 1e9 / nsPerOp
  const lookups = (get: (key: string) => unknown) => async (): Promise<number> =>
    perSecond(tightLoop(lookupCount, (i) => get(lookupKeys[i % size] as string)))
  const r = await interleaved({
    zstate: lookups((key) => state.get(key)),
    map: lookups((key) => map.get(key)),
    replicaCopy: lookups((key) => replicaCopy.get(key)),
  })
  return {
    id: 'get',
    title: `(c) state.get on a ${n(size)}-key replica`,
    comparisons: [
      compare('lookups', Unit.opsPerSec, r.zstate, `Map.get, ${n(size)} keys`, r.map, {
        op: '≥',
        ratio: 0.5,
        cause:
          'not state.get itself: a Map of the replica’s own entries, key strings included, looks up at the same rate (the next row); the baseline’s Map holds key strings the benchmark made in one go, the replica’s came one commit at a time, and lookups on it run at 0.4–0.7× across runs on this machine',
      }),
      compare('lookups', Unit.opsPerSec, r.zstate, 'Map.get on new Map(state.entries())', r.replicaCopy),
    ],
    notes: [
      `${n(lookupCount)} lookups per run over all keys in a scattered order; the Maps hold the same values`,
      'the first Map holds its own key strings (a lookup never hits the very same string object); the second is a copy of the replica, key strings included',
    ],
  }
})
