// `zstate demo`: a context (its server in a child process), a watcher and two writers cooperating
// through the shared state, then a map() over chunks of work with a progress bar; checked, then exit 0.
import { performance } from 'node:perf_hooks'
import { availableParallelism } from 'node:os'
import { ErrorCode, TimeoutError, ZStateError } from '../errors.ts'
import { processStart } from '../host.ts'
import { createContext } from '../process/context.ts'
import type { Context } from '../process/types.ts'
import { colorsFor } from './colors.ts'
import { DemoLog } from './demo-log.ts'
import { countPrimes, primesPerChunk } from './demo-primes.ts'
import { digest } from './demo-shared.ts'
import type { DemoState, WatcherResult, WriterResult } from './demo-shared.ts'
import { EXIT_FAILURE, EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { onTermination } from './signals.ts'
import { libEntry } from '../package-files.ts'

const TASKS = 40
const WRITERS = 2
const LIMIT = 3_000_000
const CHUNKS = 60
const DEADLINE = 60_000

const workerModule = libEntry('cli/demo-worker')

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
  const guard = <T>(promise: Promise<T>): Promise<T> => guarded(promise, stop.signal)
  let ctx: Context<DemoState> | undefined
  try {
    ctx = await guard(createContext<DemoState>({ name: 'zstate demo' }))
    const { state } = ctx
    const serverPid = (await ctx.server()).pid
    log.title('zstate demo: one shared state, one context, processes that cooperate through it')
    log.line()
    log.actor('context', ctx.address, `its state server runs in a child process, pid ${serverPid}`)
    const watcher = ctx.spawn<WatcherResult>(workerModule, { args: ['watcher', TASKS], name: 'watcher' })
    const writers = Array.from({ length: WRITERS }, (_, i) =>
      ctx!.spawn<WriterResult>(workerModule, { args: ['writer', TASKS], name: `writer ${i + 1}` }),
    )
    const children = [watcher, ...writers]
    await guard(state.when((view) => children.every((child) => view.has(`ready:${child.name}`))))
    log.actor('watcher', `pid ${watcher.pid}`, `watch() every change; when('done', v => v >= ${TASKS})`)
    for (const writer of writers)
      log.actor(writer.name, `pid ${writer.pid}`, "claims tasks with increment('next')")
    log.line()

    const narrating = narrate(ctx, log)
    void narrating.catch(() => {})
    const started = performance.now()
    const go = await state.set('go', true)
    log.note(`set('go', true) at revision ${go}: the writers' whenTruthy('go') wakes them up`)
    const results = await guard(Promise.all(writers.map((writer) => writer.wait())))
    const elapsed = (performance.now() - started) / 1000
    await guard(state.whenAvailable(`milestone:${TASKS}`))
    const finished = await state.set('finished', true)
    const seen = await guard(watcher.wait())
    await guard(narrating)
    const ours = digest(state.entries())

    const workers = Math.min(4, availableParallelism())
    const size = LIMIT / CHUNKS
    const chunks = Array.from({ length: CHUNKS }, (_, i): [number, number] => [i * size, (i + 1) * size])
    log.line()
    log.note(
      `map(): the primes below ${LIMIT.toLocaleString('en')} in ${CHUNKS} chunks, on ${workers} worker process${workers === 1 ? '' : 'es'}`,
    )
    const mapStarted = performance.now()
    const counts = await guard(
      ctx.map(countPrimes, chunks, {
        concurrency: workers,
        signal: stop.signal,
        onProgress: (done) => log.progress(done, CHUNKS, 'chunks'),
      }),
    )
    const mapElapsed = (performance.now() - mapStarted) / 1000
    const expected = primesPerChunk(chunks, LIMIT)
    const primes = counts.reduce((a, b) => a + b, 0)
    const mappers = [...state.keys()]
      .filter((key) => key.startsWith('mapper:'))
      .map((key) => Number(key.slice(7)))
    const doneCount = state.get('done')
    const chunkCount = state.get('chunks')

    // Everything this demo started, then closed: no process may be left.
    const pids = [serverPid, ...children.map((child) => child.pid!), ...mappers]
    await ctx.close()
    const survivors = pids.filter((pid) => processStart(pid) !== undefined)

    const done = results.flatMap((r) => r.tasks).sort((a, b) => a - b)
    const checks = [
      done.length === TASKS && done.every((n, i) => n === i + 1) && doneCount === TASKS,
      seen.ordered && seen.changes === TASKS * 3,
      seen.digest === ours && seen.revision === finished,
      counts.every((count, i) => count === expected[i]) && chunkCount === CHUNKS,
      survivors.length === 0,
    ]
    log.line()
    log.title('Summary')
    const rate = Math.round((finished - go) / elapsed)
    log.line(`  ${TASKS} tasks in ${elapsed.toFixed(2)} s: ${finished} revisions, ${rate} commits/s`)
    const split = writers.map((w, i) => `${w.name} did ${results[i]?.tasks.length ?? 0}`).join(', ')
    log.check(checks[0] === true, `${split}: every task done exactly once, done = ${String(doneCount)}`)
    log.check(checks[1] === true, `the watcher saw all ${seen.changes} task writes, in revision order`)
    log.check(checks[2] === true, `every replica agrees at revision ${finished} (digest ${ours})`)
    log.check(
      checks[3] === true,
      `map: ${primes.toLocaleString('en')} primes in ${mapElapsed.toFixed(2)} s, each chunk's count in input order and as the parent's sieve has it`,
    )
    log.check(
      checks[4] === true,
      `ctx.close() stopped everything: ${pids.length} processes started, none left`,
    )
    if (checks.every(Boolean)) return EXIT_OK
    io.stderr.write('zstate: demo: a consistency check failed\n')
    return EXIT_FAILURE
  } finally {
    log.end()
    clearTimeout(deadline)
    termination.signal.removeEventListener('abort', onInterrupt)
    await ctx?.close()
    termination.dispose()
  }
}

// Prints each task as it completes and the watcher's milestones, from this process's own replica.
async function narrate(ctx: Context<DemoState>, log: DemoLog): Promise<void> {
  let finished = 0
  for await (const change of ctx.state.watch()) {
    if (change.key === 'finished') return
    const value = change.value
    if (change.key.startsWith('task:') && isTask(value) && value.done) {
      log.task(change.revision, change.key, value.by, ++finished)
    } else if (change.key.startsWith('milestone:')) {
      const target = Number(change.key.slice('milestone:'.length))
      const what = target >= TASKS ? 'all tasks are done' : 'halfway there'
      log.watcher(`when() resolved: done = ${target}, ${what} (its replica at revision ${String(value)})`)
    }
  }
}

function isTask(value: unknown): value is { by: string; done: boolean } {
  return typeof value === 'object' && value !== null && 'done' in value && 'by' in value
}

// Settles with the promise, unless the demo is interrupted or out of time first.
function guarded<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // Abandoned, but its own later failure (children stopped on the way out) is no news.
    void promise.catch(() => {})
    return Promise.reject(reason(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      void promise.catch(() => {})
      reject(reason(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function reason(signal: AbortSignal): Error {
  const r: unknown = signal.reason
  return r instanceof Error ? r : new ZStateError(ErrorCode.ABORTED, 'demo stopped')
}
