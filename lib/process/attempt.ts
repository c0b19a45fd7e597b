// One run of a bootstrapped child, process or thread: its messages, its outcome (the reported
// result or error, else a ProcessExitError once it has exited), and the stop escalation.
import { ProcessExitError } from '../errors.ts'
import { randomBytes } from 'node:crypto'
import { deferred } from '../deferred.ts'
import type { ChildStatus } from '../protocol/process-table.ts'
import { isFromChild, type FromChild, type Job, type ToChild } from './messages.ts'
import { StderrTail } from './output.ts'
import { isSerializedError, remoteError } from './remote-error.ts'
import type { ChildStats } from './types.ts'
import type { Watchdog } from './watchdog.ts'
import type { ChildProcess } from 'node:child_process'
import type { Position } from '../connect.ts'
import { hasLimit } from '../timer-limit.ts'

export type Outcome =
  | { readonly ok: true; readonly value: unknown; readonly seen: Position | undefined }
  | { readonly ok: false; readonly error: Error }

// Tells the server which children a context has, for `zstate top`, and which have gone (it ends
// the sessions whose HELLO named their token).
export interface ChildRegistrar {
  gone(childToken: string): void
  child(
    key: string,
    pid: number,
    threadId: number | null,
    name: string,
    status: ChildStatus,
    attempts: number,
    // False: the child has no client of its own, so the server cannot hear from it.
    joined: boolean,
  ): void
}

export interface LaunchOptions {
  readonly job: Job
  readonly name: string
  readonly env: Record<string, string>
  readonly attempt: number
  // Node flags for a process child (default: the parent's, see launch.ts).
  readonly execArgv?: readonly string[] | undefined
  readonly registrar: ChildRegistrar | undefined
  // Kills a process child if this process dies (threads die with it anyway).
  readonly watchdog: Watchdog | undefined
  // A process child started ahead (a warm pool's), watched already: it gets the job instead of a fork.
  readonly warm?: ChildProcess | undefined
  readonly onReady?: () => void
  // Messages the attempt does not handle itself: map results.
  readonly onMessage?: (message: FromChild) => void
}

// What a child or a map asks its context to launch; the context adds the rest.
export type LaunchRequest = Omit<LaunchOptions, 'registrar' | 'watchdog'>

let nextKey = 1

export abstract class Attempt {
  abstract readonly kind: 'process' | 'thread'
  readonly name: string
  readonly startedAt = Date.now()
  readonly key = `${process.pid}.${nextKey++}`
  protected readonly tail = new StderrTail()
  protected readonly options: LaunchOptions
  // A secret (lib/server/child-sessions.ts): anyone holding it could end the child's session.
  readonly #childToken = randomBytes(16).toString('hex')
  readonly #outcome = deferred<Outcome>()
  #reported: Outcome | undefined
  // Whether the child joined the server with a client of its own (it says so when ready).
  #joined = true
  #exited = false
  #timers: NodeJS.Timeout[] = []
  exitCode: number | null = null

  constructor(options: LaunchOptions) {
    this.name = options.name
    this.options = options
  }

  abstract get pid(): number | undefined
  abstract get threadId(): number | undefined
  // Throws when the message cannot be cloned; a child on its way out just does not get it (its exit
  // tells the story).
  abstract send(message: ToChild): void
  protected abstract terminate(signal: NodeJS.Signals): void
  abstract stats(): Promise<ChildStats>

  // The job as the child gets it: with this attempt's token, which its client names in its HELLO.
  protected get job(): Job {
    return { ...this.options.job, childToken: this.#childToken }
  }

  // Settles after the child has exited and its output has been forwarded.
  get outcome(): Promise<Outcome> {
    return this.#outcome.promise
  }

  get running(): boolean {
    return !this.#exited
  }

  // Aborts the child's ctx.signal; halfway through `grace` SIGTERM, at its end SIGKILL (a thread is
  // terminated). Resolves once the child has exited.
  async stop(grace: number): Promise<void> {
    if (!this.#exited) {
      this.send({ t: 'abort' })
      if (grace <= 0) this.terminate('SIGKILL')
      else {
        if (hasLimit(grace / 2)) this.#timers.push(setTimeout(() => this.interrupt(), grace / 2))
        if (hasLimit(grace)) this.#timers.push(setTimeout(() => this.terminate('SIGKILL'), grace))
      }
    }
    await this.#outcome.promise
  }

  // The middle step of stop(): SIGTERM for a process; a thread has no such thing.
  protected interrupt(): void {
    this.terminate('SIGTERM')
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.#exited) this.terminate(signal)
    await this.#outcome.promise
  }

  protected register(status: ChildStatus): void {
    const pid = this.pid
    if (pid === undefined) return
    const threadId = this.threadId ?? null
    const { attempt } = this.options
    this.options.registrar?.child(this.key, pid, threadId, this.name, status, attempt, this.#joined)
  }

  protected receive(message: unknown): void {
    if (!isFromChild(message)) return
    switch (message.t) {
      case 'warm':
      case 'took':
        return
      case 'ready':
        this.#joined = message.joined
        this.register('running')
        this.options.onReady?.()
        return
      case 'result':
        this.#reported ??= { ok: true, value: message.value, seen: message.seen }
        return
      case 'error':
        if (isSerializedError(message.error))
          this.#reported ??= { ok: false, error: remoteError(message.error, this.pid) }
        return
      default:
        this.options.onMessage?.(message)
    }
  }

  // The child has exited (and its output has ended): settle with what it reported, else why it died.
  protected exited(exitCode: number | null, signal: NodeJS.Signals | null, extra?: string): void {
    if (this.#exited) return
    this.#exited = true
    this.exitCode = exitCode
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers = []
    const outcome = this.#reported ?? { ok: false, error: this.#exitError(exitCode, signal, extra) }
    this.register(outcome.ok ? 'exited' : 'failed')
    this.options.registrar?.gone(this.#childToken)
    this.#outcome.resolve(outcome)
  }

  #exitError(exitCode: number | null, signal: NodeJS.Signals | null, extra: string | undefined): Error {
    const who = this.kind === 'thread' ? `thread ${this.threadId ?? '?'}` : `pid ${this.pid ?? '?'}`
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(exitCode)}`
    const last = extra ?? this.tail.last
    const message = `${this.name} (${who}) ${how} before reporting a result${last === '' ? '' : `: ${last}`}`
    const stderr = extra === undefined ? this.tail.text : [this.tail.text, extra].filter(Boolean).join('\n')
    return new ProcessExitError(message, { exitCode, signal, stderr })
  }
}
