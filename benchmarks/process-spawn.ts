import { Worker } from 'node:worker_threads'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { WorkerContext } from '../lib/index.ts'
import { zstatePackage } from './support/built.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { forkSide } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { nowUs } from './support/clock.ts'

// (g) spawn and join 20 children at once, as processes and as worker threads, against bare fork /
// new Worker of a script that imports zeromq and connects once (goal ≤ 1.3×), and of an empty script.
const COUNT = 20
// The keys of the large state that the replicate rows spawn into, about 9 MiB of values.
const BIG_KEYS = 100_000

// The spawned target: it reads its ctx, so the child joins the server (one that never reads it runs
// without a context: the 'free' run).
const reads = (ctx: WorkerContext): number => ctx.state.revision

runScenario(import.meta.url, async () => {
  const { createContext } = zstatePackage
  await using dir = await ipcDir()
  const echo = await forkSide(new URL('./sides/echo-router.ts', import.meta.url))
  const echoAddress = dir.endpoint('echo')
  await echo.call('bind', echoAddress)
  const ctx = await createContext({ name: 'bench spawn' })
  // Warm children with the flags the cold spawns use, one per child of a round. A round of the other
  // runs lasts longer than the default idleTimeout (30 s), which would empty the pool between runs.
  const pooled = await createContext({
    name: 'bench spawn pool',
    pool: { size: COUNT, execArgv: [], idleTimeout: 600_000 },
  })
  const pool = (pooled as unknown as { warmPool: { ready(): Promise<void> } }).warmPool
  // A state of BIG_KEYS keys: a full replica downloads it as it joins, `replicate: []` does not.
  const big = await createContext({ name: 'bench spawn big state' })
  await Promise.all(
    Array.from({ length: BIG_KEYS }, (_, i) => big.state.set(`data/${i}`, { id: i, note: 'x'.repeat(70) })),
  )
  const script = (name: string): string => fileURLToPath(new URL(`./sides/${name}.mjs`, import.meta.url))
  const env = { ...process.env, ZSTATE_ADDRESS: echoAddress }
  // µs for COUNT children started at once and all finished.
  const timed = (start: () => Promise<unknown>) => async (): Promise<number> => {
    const t = nowUs()
    await Promise.all(Array.from({ length: COUNT }, start))
    return nowUs() - t
  }
  const forked = (name: string) =>
    timed(async () => {
      const child = fork(script(name), [], {
        env,
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      await once(child, 'exit')
    })
  const threaded = (name: string) =>
    timed(async () => {
      const worker = new Worker(script(name), { env })
      await once(worker, 'exit')
    })
  try {
    const r = await interleaved({
      zstate: timed(() => ctx.spawn(reads, { execArgv: [] }).wait()),
      free: timed(() => ctx.spawn(() => 1, { execArgv: [] }).wait()),
      // Full before the clock starts; refilled after it stops, so the refill loads no other run.
      warm: async () => {
        await pool.ready()
        const us = await timed(() => pooled.spawn(reads, { execArgv: [] }).wait())()
        await pool.ready()
        return us
      },
      connect: forked('connect-once'),
      empty: forked('empty'),
      zstateThread: timed(() => ctx.spawn(reads, { thread: true }).wait()),
      bigFull: timed(() => big.spawn(reads, { execArgv: [] }).wait()),
      bigNone: timed(() => big.spawn(reads, { execArgv: [], replicate: [] }).wait()),
      connectThread: threaded('connect-once'),
      emptyThread: threaded('empty'),
    })
    const time = Unit.us
    return {
      id: 'process-spawn',
      title: `(g) Spawn and join ${n(COUNT)} children at once`,
      comparisons: [
        compare('processes', time, r.zstate, 'fork: import zeromq, connect once', r.connect, {
          op: '≤',
          ratio: 1.3,
          cause:
            'CPU per child, every process counted (/proc/stat, measured apart): about 103 ms against 85; when its function starts, a zstate child’s main thread has used about 81 ms, the baseline’s about 69 when its round trip is done: the difference is loading msgpackr and zstate’s one-file child code (compiled from V8’s code cache) besides zeromq, and joining (HELLO, subscription proof, snapshot); the other 6 ms are reporting and closing, and the share of its parent, the server and the watchdog',
        }),
        compare('processes', time, r.zstate, 'fork: empty script', r.empty),
        compare('processes, a target that never reads its ctx', time, r.free, 'fork: empty script', r.empty),
        compare('processes, warm pool', time, r.warm, 'the same 20 spawns, cold (no pool)', r.zstate, {
          op: '≤',
          ratio: 0.25,
        }),
        compare('processes, warm pool', time, r.warm, 'fork: import zeromq, connect once', r.connect),
        compare('threads', time, r.zstateThread, 'new Worker: import zeromq, connect once', r.connectThread, {
          op: '≤',
          ratio: 1.3,
        }),
        compare('threads', time, r.zstateThread, 'new Worker: empty script', r.emptyThread),
        compare(
          `processes, ${n(BIG_KEYS)} keys in the state, replicate: []`,
          time,
          r.bigNone,
          'the same spawns with full replicas',
          r.bigFull,
        ),
      ],
      notes: [
        `${COUNT} ctx.spawn((ctx) => ctx.state.revision) started together, time until every wait() has resolved (the processes have exited)`,
        'a zstate child loads the client, joins the state server (HELLO, subscription proof, snapshot), runs, reports over IPC, says goodbye and exits',
        'a target that never reads its ctx, ctx.spawn(() => 1), runs without one: the child loads none of the client and joins nothing (docs/processes.md)',
        'the baselines connect a DEALER to an echo ROUTER and make one round trip',
        `warm pool: createContext({ pool: { size: ${COUNT}, idleTimeout: 600_000 } }), full before each timed round and refilled after it (idleTimeout longer than a round of the other runs, so that the pool is not let go between them); each spawn takes a child that has loaded zstate already and runs one target in it`,
        `${n(BIG_KEYS)} keys: the same spawns on a context whose state holds ${n(BIG_KEYS)} keys of ~90-byte values, with spawn({ replicate: [] }) (the child joins without a snapshot) against full replicas (each child downloads and decodes the whole state)`,
      ],
    }
  } finally {
    await Promise.all([ctx.close(), pooled.close(), big.close()])
    await echo.stop()
  }
})
