// A spawned child as its parent holds it: attempts and retries (supervision), the result, stop/kill.
import { constants } from 'node:os'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { deferred } from '../deferred.ts'
import { bounded, checkWaitOptions, type WaitOptions } from '../wait.ts'
import type { Attempt, LaunchRequest } from './attempt.ts'
import { checkDelay, checkGrace, DEFAULT_GRACE, type ResolvedSpawnOptions } from './options.ts'
import { callSite, withCallSite } from './remote-error.ts'
import { notRunning } from './stats.ts'
import type { Target } from './target.ts'
import type { Position } from '../connect.ts'
import type { ChildHandle, ChildStats, ChildStatus } from './types.ts'
import { shown } from '../protocol/values.ts'
import { rejecting } from '../rejecting.ts'

// What a handle needs from its context.
export interface ChildHost {
  prepare(thread: boolean): Promise<void>
  launch(thread: boolean, options: LaunchRequest): Attempt
  childEnv(extra: Record<string, string>): Record<string, string>
  // Resolves once the context's replica shows what a child's saw when it reported (ClientImpl).
  reached(seen: Position): Promise<void>
}

// A handle as its context holds it, whatever its result type.
export interface HeldChild extends ChildHandle<unknown> {
  stopFor(reason: unknown): Promise<void>
  // The result or the failure, without anyone having received it (ctx.wait()).
  readonly outcome: Promise<unknown>
}

// What a child's attempts are made of, for as long as it is supervised.
interface Run {
  readonly host: ChildHost
  readonly target: Target
  readonly options: ResolvedSpawnOptions
  // Where spawn() was called, added to the stack of a failure.
  readonly site: string
}

export class ChildHandleImpl<R> implements ChildHandle<R>, HeldChild {
  readonly name: string
  readonly #result = deferred<R>()
  readonly #finished = deferred<void>()
  // The attempt running, or the last one until the child has finished: then only its pid and thread
  // are kept, as a handle may stay in ctx.children for long.
  #attempt: Attempt | undefined
  #ended: { pid: number | undefined; threadId: number | undefined } | undefined
  #attempts = 0
  #status: ChildStatus = 'starting'
  #exitCode: number | null = null
  // Set by stop(), kill(), the spawn signal or the context closing: no further attempts.
  #halted = false
  #haltReason: unknown
  #pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined

  constructor(host: ChildHost, target: Target, options: ResolvedSpawnOptions, name: string) {
    this.name = name
    void this.#result.promise.catch(() => {})
    const signal = options.signal
    const onAbort = (): void => void this.#stopFor(signal?.reason)
    if (signal?.aborted === true) this.#halt(signal.reason)
    else signal?.addEventListener('abort', onAbort, { once: true })
    // What the attempts need is the supervision's own: a finished handle keeps none of it.
    void this.#supervise({ host, target, options, site: callSite() }).finally(() => {
      signal?.removeEventListener('abort', onAbort)
      this.#ended = { pid: this.#attempt?.pid, threadId: this.#attempt?.threadId }
      this.#attempt = undefined
      this.#finished.resolve()
    })
  }

  get pid(): number | undefined {
    return this.#attempt?.pid ?? this.#ended?.pid
  }
  get threadId(): number | undefined {
    return this.#attempt?.threadId ?? this.#ended?.threadId
  }
  get attempts(): number {
    return this.#attempts
  }
  get status(): ChildStatus {
    return this.#status
  }
  get exitCode(): number | null {
    return this.#exitCode
  }

  get outcome(): Promise<R> {
    return this.#result.promise
  }

  // The handle stays in ctx.children whatever this returns: ctx.wait() covers every child spawned
  // since the last one it handed over.
  // A bad option rejects, as from every call that returns a promise; never a synchronous throw.
  wait(options?: WaitOptions): Promise<R> {
    return rejecting(() => {
      checkWaitOptions(options, 'wait')
      return bounded(this.#result.promise, options, `wait for ${this.name}`)
    })
  }

  async stop(options?: { grace?: number }): Promise<void> {
    await this.#stopFor(undefined, checkGrace(options))
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    // A name this OS does not know would be refused by the child's kill, after the handle had halted.
    if (typeof signal !== 'string' || !Object.hasOwn(constants.signals, signal))
      throw invalidArgument(`kill: signal must be a signal name like 'SIGKILL', got ${shown(signal)}`)
    this.#halt(undefined)
    await this.#attempt?.kill(signal)
    await this.#finished.promise
  }

  stats(): Promise<ChildStats> {
    const attempt = this.#attempt
    if (attempt === undefined) return Promise.reject(notRunning(this.#ended?.pid))
    return attempt.stats()
  }

  // Stops for the context's or the signal's reason (then wait() rejects with it) or for stop().
  async stopFor(reason: unknown): Promise<void> {
    await this.#stopFor(reason)
  }

  async #stopFor(reason: unknown, grace = DEFAULT_GRACE): Promise<void> {
    this.#halt(reason)
    const attempt = this.#attempt
    if (attempt?.running === true) await attempt.stop(grace)
    await this.#finished.promise
  }

  #halt(reason: unknown): void {
    if (!this.#halted) this.#haltReason = reason
    this.#halted = true
    const pause = this.#pause
    this.#pause = undefined
    if (pause !== undefined) {
      clearTimeout(pause.timer)
      pause.resolve()
    }
  }

  // Runs attempts until one succeeds, retries are used up, retryOn declines, or the child is stopped.
  async #supervise(run: Run): Promise<void> {
    let failure: Error | undefined
    try {
      for (;;) {
        if (this.#halted) throw this.#haltError(failure)
        const attempt = await this.#launch(run)
        const outcome = await attempt.outcome
        this.#exitCode = attempt.exitCode
        if (outcome.ok) {
          // Whoever gets the result then reads the child's writes in the parent's state.
          if (outcome.seen !== undefined) await run.host.reached(outcome.seen)
          this.#status = 'exited'
          this.#result.resolve(outcome.value as R)
          return
        }
        failure = outcome.error
        if (this.#halted) throw this.#haltError(failure)
        if (!this.#retries(run.options, failure)) throw failure
        // The next attempt is coming: not running meanwhile.
        this.#status = 'starting'
        await this.#delay(run.options, failure)
      }
    } catch (error) {
      this.#status = 'failed'
      this.#result.reject(withCallSite(error, run.site))
    }
  }

  async #launch({ host, target, options }: Run): Promise<Attempt> {
    this.#attempts++
    this.#status = 'starting'
    this.#exitCode = null
    await host.prepare(options.thread)
    const attempt = host.launch(options.thread, {
      job: {
        t: 'job',
        mode: 'single',
        target,
        args: options.args,
        name: this.name,
        replicate: options.replicate,
      },
      name: this.name,
      env: host.childEnv(options.env),
      execArgv: options.execArgv,
      attempt: this.#attempts,
      onReady: () => {
        if (this.#attempt === attempt && attempt.running) this.#status = 'running'
      },
    })
    this.#attempt = attempt
    // Stopped while it was being started: it ends at once, and its outcome says so.
    if (this.#halted) void attempt.stop(0)
    return attempt
  }

  #retries(options: ResolvedSpawnOptions, error: Error): boolean {
    if (this.#attempts > options.retries) return false
    return options.retryOn === undefined || options.retryOn(error) === true
  }

  async #delay(options: ResolvedSpawnOptions, error: Error): Promise<void> {
    const { retryDelay } = options
    const ms = checkDelay(
      typeof retryDelay === 'function' ? retryDelay(this.#attempts, error) : retryDelay,
      'spawn: retryDelay',
    )
    if (ms === 0) return
    await new Promise<void>((resolve) => {
      this.#pause = { timer: setTimeout(resolve, ms), resolve }
    })
    this.#pause = undefined
  }

  #haltError(cause: Error | undefined): unknown {
    if (this.#haltReason !== undefined) return this.#haltReason
    return new ZStateError(
      ErrorCode.ABORTED,
      `${this.name} was stopped${this.#attempts === 0 ? ' before it started' : ''}`,
      cause === undefined ? undefined : { cause },
    )
  }
}
