import { forkPoolMap } from './baselines/fork-pool.ts'
import { zstatePackage } from './support/built.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { inFlight } from './support/measure.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { median, pairedRatios } from './support/stats.ts'
import { runScenario } from './support/scenario.ts'

// (f) ctx.map against a hand-written child_process.fork pool, both started afresh for every call, on
// two workers: tiny items (squaring 1..100,000), the same with start-up excluded, CPU-heavy items,
// and map's speed-up from one worker to two (near-linear on 2 cores). Both targets here ignore their
// ctx, so map's workers run without zstate's client, as the pool's run without it.
const START_UP =
  'start-up: a worker boots Node, loads its target and gets its first batch, as the pool’s do, and a heavy item takes both cores meanwhile'

runScenario(import.meta.url, async () => {
  const { createContext } = zstatePackage
  const tiny = Array.from({ length: scaled(100_000) }, (_, i) => i + 1)
  const many = Array.from({ length: scaled(1_000_000) }, (_, i) => i + 1)
  const heavy = Array.from({ length: scaled(400, 40) }, (_, i) => i + 1)
  const square = new URL('./sides/map-square.mjs', import.meta.url)
  const work = new URL('./sides/map-heavy.mjs', import.meta.url)
  const ctx = await createContext({ name: 'bench map' })
  // Two warm workers with the flags the cold maps use, kept between runs (a round of the other runs
  // can last longer than the default idleTimeout, 30 s, which would empty the pool).
  const warmCtx = await createContext({
    name: 'bench map pool',
    pool: { size: 2, execArgv: [], idleTimeout: 600_000 },
  })
  const warmPool = (warmCtx as unknown as { warmPool: { ready(): Promise<void> } }).warmPool
  try {
    // execArgv []: the workers run plain JavaScript, as the pool's do, though this script runs under tsx.
    const zstate = (target: URL, items: number[], concurrency: number) => (): Promise<number> =>
      inFlight(items.length, () => ctx.map(target, items, { concurrency, execArgv: [] }))
    const pool =
      (fn: 'square' | 'heavy', items: number[], chunk: number, workers = 2) =>
      (): Promise<number> =>
        inFlight(items.length, () => forkPoolMap(fn, items, workers, chunk))
    // Items/s between a small and a large call: what each extra item costs once the workers run.
    const marginal =
      (small: () => Promise<number>, large: () => Promise<number>) => async (): Promise<number> => {
        const smallSeconds = tiny.length / (await small())
        const largeSeconds = many.length / (await large())
        return (many.length - tiny.length) / (largeSeconds - smallSeconds)
      }
    // Full before the clock starts; refilled after it stops, so the refill loads no other run.
    const warm = (items: number[]) => async (): Promise<number> => {
      await warmPool.ready()
      const rate = await inFlight(items.length, () =>
        warmCtx.map(square, items, { concurrency: 2, execArgv: [] }),
      )
      await warmPool.ready()
      return rate
    }
    const r = await interleaved({
      tinyZstate: zstate(square, tiny, 2),
      tinyWarm: warm(tiny),
      tinyPool: pool('square', tiny, 1_000),
      marginalZstate: marginal(zstate(square, tiny, 2), zstate(square, many, 2)),
      marginalPool: marginal(pool('square', tiny, 1_000), pool('square', many, 1_000)),
      heavyZstate: zstate(work, heavy, 2),
      heavyPool: pool('heavy', heavy, 1),
      heavyOne: zstate(work, heavy, 1),
      // The machine's own: plain processes that compute their share in one chunk, no round trips.
      heavyBulkTwo: pool('heavy', heavy, Math.ceil(heavy.length / 2), 2),
      heavyBulkOne: pool('heavy', heavy, heavy.length, 1),
    })
    const floor = median(pairedRatios(r.heavyBulkTwo, r.heavyBulkOne))
    const pooled = 'fork pool, chunks of 1,000'
    return {
      id: 'process-map',
      title: '(f) ctx.map on 2 workers vs a hand-written fork pool',
      comparisons: [
        compare(`tiny items (x², ${n(tiny.length)})`, Unit.opsPerSec, r.tinyZstate, pooled, r.tinyPool, {
          op: '≥',
          ratio: 0.9,
          cause: START_UP,
        }),
        compare(
          `tiny items, warm pool (x², ${n(tiny.length)})`,
          Unit.opsPerSec,
          r.tinyWarm,
          pooled,
          r.tinyPool,
          {
            op: '≥',
            ratio: 0.9,
          },
        ),
        compare(
          `tiny items, start-up excluded (${n(tiny.length)} → ${n(many.length)})`,
          Unit.opsPerSec,
          r.marginalZstate,
          pooled,
          r.marginalPool,
          {
            op: '≥',
            ratio: 0.9,
            cause:
              'computed from the difference of two whole calls (1,000,000 and 100,000 items), each paying its own start-up, so one slow start moves it far: its range is the widest of these rows',
          },
        ),
        compare(
          `heavy items (${n(heavy.length)})`,
          Unit.opsPerSec,
          r.heavyZstate,
          'fork pool, one item at a time',
          r.heavyPool,
          { op: '≥', ratio: 0.97, cause: START_UP },
        ),
        compare('heavy items, 2 workers', Unit.opsPerSec, r.heavyZstate, 'ctx.map, 1 worker', r.heavyOne, {
          op: '≥',
          ratio: 1.85,
          cause: `what two processes get of these 2 cores: two plain ones computing their halves in one go run at ${floor.toFixed(2)}× one computing all (next row); measured apart, a heavy item takes about 13 % longer while the other core computes too (6.5 ms against 5.8)`,
        }),
        compare(
          'heavy items, 2 workers: the floor',
          Unit.opsPerSec,
          r.heavyBulkTwo,
          'the same items in one chunk to 1 process',
          r.heavyBulkOne,
        ),
      ],
      notes: [
        'items/s of a whole call: both start their worker processes afresh each time and stop them at the end',
        'warm pool: createContext({ pool: { size: 2, idleTimeout: 600_000 } }), full before each timed call and refilled after it (idleTimeout longer than a round of the other runs, so that the pool is not let go between them): the workers have booted and loaded zstate already',
        'map batches items adaptively (about 20 ms of work per batch) and keeps two batches in flight per worker for small items; the pool sends fixed chunks',
        'the targets, (_ctx, x) => square(x) and (_ctx, n) => heavy(n), never read their ctx, so map’s workers load no zstate client and join no session (docs/processes.md, “Workers without a context”): like the pool’s, they boot Node, load the target and run',
        '“start-up excluded”: the extra items of a large call over the extra time it took, (1M − 100k) / (t(1M) − t(100k)), both sides measured the same way',
        'a heavy item is 600,000 square roots; the same work.mjs functions run on both sides',
      ],
    }
  } finally {
    await Promise.all([ctx.close(), warmCtx.close()])
  }
})
