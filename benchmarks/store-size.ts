import { nowUs } from './support/clock.ts'
import { runs, scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { n } from './support/format.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { fill } from './support/values.ts'
import { startStatePair, type BenchClient } from './support/zstate.ts'

// (e) Per-operation cost must not grow with the size of the store (ZProc copies its whole dict on every
// call): set, get and a whole-state when against a 1-key store and a 100,000-key store, each with its
// own server, both clients in this process (goal: ≤ 10 % apart).

type ChunkCost = (client: BenchClient, ops: number, first: number) => Promise<number> // µs for `ops` ops

const HOT = 'hot'

// Each case stops after this long per run, whatever its count (see perOpCost).
const budgetMs = 10_000

interface Case {
  readonly name: string
  readonly unit: Unit
  readonly perUs: number // converts µs per op into the unit shown
  readonly cost: ChunkCost
  readonly total: number
  readonly chunk: number
}

// `ops` sets of one key, all in flight.
const setCost: ChunkCost = async (client, ops, first) => {
  const start = nowUs()
  await Promise.all(Array.from({ length: ops }, (_, j) => client.state.set(HOT, first + j)))
  return nowUs() - start
}

// `ops` gets of one key in a tight loop.
const getCost: ChunkCost = async (client, ops) => {
  const { state } = client
  let sink = 0
  const start = nowUs()
  for (let j = 0; j < ops; j++) if (state.get(HOT) !== undefined) sink++
  const elapsed = nowUs() - start
  if (sink !== ops) throw new Error('the hot key vanished')
  return elapsed
}

// `ops` cycles of: a whole-state when waiting for the next value, the set that satisfies it, and the
// resolution (which hands out a snapshot of the whole state).
const wholeStateWhenCost: ChunkCost = async (client, ops, first) => {
  const { state } = client
  const start = nowUs()
  for (let j = 0; j < ops; j++) {
    const value = first + j
    const matched = state.when((view) => view.get(HOT) === value)
    await state.set(HOT, value)
    await matched
  }
  return nowUs() - start
}

// Alternates the two stores chunk by chunk (and which goes first) so that changes in machine speed hit
// both equally; returns the cost per operation for each, in µs. Stops early after `budgetMs`, so an
// operation whose cost does grow with the store still finishes in reasonable time.
async function perOpCost(
  small: BenchClient,
  large: BenchClient,
  c: Case,
  total: number,
  next: { value: number },
): Promise<{ small: number; large: number }> {
  let smallUs = 0
  let largeUs = 0
  let done = 0
  const deadline = nowUs() + budgetMs * 1e3
  for (let k = 0; done < total && (k === 0 || nowUs() < deadline); k++) {
    const ops = Math.min(c.chunk, total - done)
    const order = k % 2 === 0 ? ([small, large] as const) : ([large, small] as const)
    for (const client of order) {
      const elapsed = await c.cost(client, ops, next.value)
      next.value += ops
      if (client === small) smallUs += elapsed
      else largeUs += elapsed
    }
    done += ops
  }
  return { small: smallUs / done, large: largeUs / done }
}

runScenario(import.meta.url, async () => {
  const size = scaled(100_000)
  await using dir = await ipcDir()
  await using small = await startStatePair(dir, 'small')
  await using large = await startStatePair(dir, 'large')
  await fill((values) => large.client.state.update(values), size - 1)
  const next = { value: 0 }
  for (const pair of [small, large]) await pair.client.state.set(HOT, next.value++)

  const cases: readonly Case[] = [
    { name: 'set (in flight)', unit: Unit.us, perUs: 1, cost: setCost, total: scaled(50_000), chunk: 1_000 },
    {
      name: 'get',
      unit: Unit.ns,
      perUs: 1e3,
      cost: getCost,
      total: scaled(5_000_000, 100_000),
      chunk: 100_000,
    },
    {
      name: 'whole-state when',
      unit: Unit.us,
      perUs: 1,
      cost: wholeStateWhenCost,
      total: scaled(3_000),
      chunk: 10,
    },
  ]
  const comparisons = []
  for (const c of cases) {
    const smallRuns: number[] = []
    const largeRuns: number[] = []
    // A short untimed pass warms both paths up before the measured runs.
    await perOpCost(small.client, large.client, c, c.chunk * 2, next)
    for (let run = 0; run < runs; run++) {
      const r = await perOpCost(small.client, large.client, c, c.total, next)
      smallRuns.push(r.small * c.perUs)
      largeRuns.push(r.large * c.perUs)
    }
    comparisons.push(
      compare(`${c.name} per op, ${n(size)} keys`, c.unit, largeRuns, 'same, 1 key', smallRuns, {
        op: '≤',
        ratio: 1.1,
      }),
    )
  }
  return {
    id: 'store-size',
    title: `(e) Per-operation cost at 1 key vs ${n(size)} keys`,
    comparisons,
    notes: [
      'Each row: the same operation on the hot key of a 1-key store and of a large store, alternated in chunks',
      'set: 1,000 in flight per chunk; whole-state when: one waiter, the set that satisfies it, its resolution',
      `each case stops after ${budgetMs / 1e3} s per run, whatever its count`,
    ],
  }
})
