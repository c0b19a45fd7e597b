// `zstate demo`: a server in this process, two writer processes and a watcher, narrated, then exit 0.
import { performance } from 'node:perf_hooks'
import { connect, startServer } from '../index.ts'
import type { Server } from '../index.ts'
import { ErrorCode, TimeoutError, ZStateError } from '../errors.ts'
import { colorsFor } from './colors.ts'
import { DemoChild } from './demo-child.ts'
import { DemoLog } from './demo-log.ts'
import { digest } from './demo-shared.ts'
import type { DemoState, Role, WorkerMessage } from './demo-shared.ts'
import { EXIT_FAILURE, EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { onTermination } from './signals.ts'

const TASKS = 40
const WRITERS = 2
const DEADLINE = 60_000

type DemoClient = Awaited<ReturnType<typeof connect<DemoState>>>

export async function demo(io: Io): Promise<number> {
  const log = new DemoLog(io, colorsFor(io.stdout), TASKS)
  const termination = onTermination()
  const stop = new AbortController()
  const onInterrupt = (): void => stop.abort(termination.signal.reason)
  termination.signal.addEventListener('abort', onInterrupt, { once: true })
  const deadline = setTimeout(
    () => stop.abort(new TimeoutError(`demo took longer than ${DEADLINE} ms`)),
    DEADLINE,
  )
  const children: DemoChild[] = []
  let server: Server | undefined
  let client: DemoClient | undefined
  try {
    server = await startServer()
    client = await connect<DemoState>(server.address, { name: 'zstate demo' })
    const guard = <T>(promise: Promise<T>): Promise<T> => guarded(promise, stop.signal)
    log.title('zstate demo: one shared state, four processes')
    log.line()
    log.actor('server', server.address, `in this process, pid ${process.pid}`)
    const env = { ...process.env, ZSTATE_ADDRESS: server.address }
    const spawn = (role: Role, name: string): DemoChild => {
      const child = new DemoChild(role, name, TASKS, env, (m) => narrate(log, m))
      children.push(child)
      return child
    }
    const watcher = spawn('watcher', 'watcher')
    const writers = Array.from({ length: WRITERS }, (_, i) => spawn('writer', `writer ${i + 1}`))
    await guard(Promise.all(children.map((child) => child.next('ready'))))
    log.actor('watcher', `pid ${watcher.pid}`, `watch() every change; when('done', v => v >= ${TASKS})`)
    for (const writer of writers)
      log.actor(writer.name, `pid ${writer.pid}`, "claims tasks with increment('next')")
    log.line()

    const narrating = narrateTasks(client, log)
    void narrating.catch(() => {})
    const started = performance.now()
    const go = await client.state.set('go', true)
    log.note(`set('go', true) at revision ${go}: the writers' whenTruthy('go') wakes them up`)
    const results = await guard(Promise.all(writers.map((writer) => writer.next('writer-result'))))
    await guard(Promise.all(writers.map((writer) => writer.closed)))
    const elapsed = (performance.now() - started) / 1000
    const finished = await client.state.set('finished', true)
    const seen = await guard(watcher.next('watcher-result'))
    await guard(narrating)
    await guard(watcher.closed)

    const done = results.flatMap((r) => r.tasks).sort((a, b) => a - b)
    const exact = done.length === TASKS && done.every((n, i) => n === i + 1)
    const ours = digest(client.state.entries())
    const checks = [
      exact && client.state.get('done') === TASKS,
      seen.ordered && seen.changes === TASKS * 3,
      seen.digest === ours && seen.revision === finished,
    ]
    log.line()
    log.title('Summary')
    const rate = Math.round((finished - go) / elapsed)
    log.line(`  ${TASKS} tasks in ${elapsed.toFixed(2)} s: ${finished} revisions, ${rate} commits/s`)
    const split = writers.map((w, i) => `${w.name} did ${results[i]?.tasks.length ?? 0}`).join(', ')
    log.check(
      checks[0] === true,
      `${split}: every task done exactly once, done = ${String(client.state.get('done'))}`,
    )
    log.check(checks[1] === true, `the watcher saw all ${seen.changes} task writes, in revision order`)
    log.check(checks[2] === true, `every replica agrees at revision ${finished} (digest ${ours})`)
    if (checks.every(Boolean)) return EXIT_OK
    io.stderr.write('zstate: demo: a consistency check failed\n')
    return EXIT_FAILURE
  } finally {
    clearTimeout(deadline)
    termination.signal.removeEventListener('abort', onInterrupt)
    await Promise.all(children.map((child) => child.stop()))
    await client?.close()
    await server?.close()
    termination.dispose()
  }
}

// Prints each task as it completes, from this process's own replica; ends at "finished".
async function narrateTasks(client: DemoClient, log: DemoLog): Promise<void> {
  let finished = 0
  for await (const change of client.state.watch()) {
    if (change.key === 'finished') return
    const task = change.value
    if (change.key.startsWith('task:') && isTask(task) && task.done) {
      log.task(change.revision, change.key, task.by, ++finished)
    }
  }
}

function isTask(value: unknown): value is { by: string; done: boolean } {
  return typeof value === 'object' && value !== null && 'done' in value && 'by' in value
}

function narrate(log: DemoLog, message: WorkerMessage): void {
  if (message.type !== 'milestone') return
  const what = message.done >= TASKS ? 'all tasks are done' : 'halfway there'
  log.watcher(
    `when() resolved: done = ${message.done}, ${what} (its replica at revision ${message.revision})`,
  )
}

// Settles with the promise, unless the demo is interrupted or out of time first.
function guarded<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Abandoned, but its own later failure (children killed on the way out) is no news.
    void promise.catch(() => {})
    return Promise.reject(reason(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function reason(signal: AbortSignal): Error {
  const r: unknown = signal.reason
  return r instanceof Error ? r : new ZStateError(ErrorCode.ABORTED, 'demo stopped')
}
