// The demo's worker module, spawned by `zstate demo` through its context: a writer or the watcher.
// They cooperate only through the shared state.
import { setTimeout as sleep } from 'node:timers/promises'
import type { WorkerContext } from '../process/types.ts'
import { digest, taskKey } from './demo-shared.ts'
import type { DemoState, Role, WatcherResult, WriterResult } from './demo-shared.ts'

type Ctx = WorkerContext<DemoState>

export default async function demoWorker(
  ctx: Ctx,
  role: Role,
  tasks: number,
): Promise<WriterResult | WatcherResult> {
  return role === 'writer' ? writer(ctx, tasks) : watcher(ctx, tasks)
}

// Writers claim task numbers with increment('next') until none are left, and count each one done.
async function writer({ state, name, signal }: Ctx, tasks: number): Promise<WriterResult> {
  await state.set(`ready:${name}`, process.pid)
  await state.whenTruthy('go', { signal })
  const mine: number[] = []
  for (;;) {
    const n = Number(await state.increment('next'))
    if (n > tasks) break
    for (const progress of [0, 50, 100]) {
      if (progress > 0) await sleep(8 + Math.random() * 24, undefined, { signal })
      await state.set(taskKey(n), { by: name, progress, done: progress === 100 })
    }
    await state.increment('done')
    mine.push(n)
  }
  return { tasks: mine }
}

// The watcher counts every change watch() yields, and says when `done` passes each milestone.
async function watcher({ state, name, signal }: Ctx, tasks: number): Promise<WatcherResult> {
  const changes = state.watch({ signal })
  const counting = (async () => {
    let seen = 0
    let last = 0
    let ordered = true
    for await (const change of changes) {
      ordered &&= change.revision > last
      last = change.revision
      if (change.key.startsWith('task:')) seen++
      if (change.key === 'finished') break
    }
    return { seen, ordered }
  })()
  // Awaited below; this only keeps an early failure from going unhandled meanwhile.
  void counting.catch(() => {})
  await state.set(`ready:${name}`, process.pid)
  for (const target of [tasks / 2, tasks]) {
    await state.when('done', (value) => (value ?? 0) >= target, { signal })
    await state.set(`milestone:${target}`, state.revision)
  }
  await state.whenTruthy('finished', { signal })
  const { seen, ordered } = await counting
  return { changes: seen, ordered, revision: state.revision, digest: digest(state.entries()) }
}
