// One demo process, forked by `zstate demo`: argv is ROLE NAME TASKS; the server is in ZSTATE_ADDRESS.
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '../index.ts'
import { digest, taskKey } from './demo-shared.ts'
import type { DemoState, WorkerMessage } from './demo-shared.ts'
import { describeError } from './report.ts'

type DemoClient = Awaited<ReturnType<typeof connect<DemoState>>>
type DemoStateView = DemoClient['state']

const [role, name = 'worker', count = '0'] = process.argv.slice(2)
const tasks = Number(count)

// Writers claim task numbers with increment('next') until none are left, and count each one done.
async function writer(state: DemoStateView): Promise<void> {
  await send({ type: 'ready' })
  await state.whenTruthy('go')
  const mine: number[] = []
  for (;;) {
    const n = Number(await state.increment('next'))
    if (n > tasks) break
    for (const progress of [0, 50, 100]) {
      if (progress > 0) await sleep(8 + Math.random() * 24)
      await state.set(taskKey(n), { by: name, progress, done: progress === 100 })
    }
    await state.increment('done')
    mine.push(n)
  }
  await send({ type: 'writer-result', tasks: mine })
}

// The watcher waits with when() and counts every change watch() yields, until "finished".
async function watcher(state: DemoStateView): Promise<void> {
  const changes = state.watch()
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
  // Reported when awaited below; this only keeps an early failure from going unhandled meanwhile.
  void counting.catch(() => {})
  await send({ type: 'ready' })
  for (const target of [tasks / 2, tasks]) {
    const done = await state.when('done', (value) => (value ?? 0) >= target)
    await send({ type: 'milestone', done: done ?? 0, revision: state.revision })
  }
  await state.whenTruthy('finished')
  const { seen, ordered } = await counting
  const result = { changes: seen, ordered, revision: state.revision, digest: digest(state.entries()) }
  await send({ type: 'watcher-result', ...result })
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) throw new Error('demo-worker runs only under "zstate demo"')
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()))
  })
}

async function main(): Promise<void> {
  if (role !== 'writer' && role !== 'watcher') throw new Error(`unknown role ${String(role)}`)
  const client = await connect<DemoState>(undefined, { name: `demo ${name}` })
  try {
    await (role === 'writer' ? writer(client.state) : watcher(client.state))
  } finally {
    await client.close()
  }
}

// The demo owns this process: when it goes away, so do we.
process.on('disconnect', () => process.exit(1))
main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${name}: ${describeError(error)}\n`)
    process.exit(1)
  },
)
