// An attempt as a child process: the bootstrap forked with an IPC channel, output forwarded.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Attempt, type LaunchOptions } from './attempt.ts'
import { bootstrapExecArgv, childExecArgv, entryUrl } from './launch.ts'
import type { ToChild } from './messages.ts'
import { forwardLines } from './output.ts'
import { processStats } from './stats.ts'
import { CpuMeter } from '../cpu-meter.ts'
import type { ChildStats } from './types.ts'
import type { Launch } from './warm-pool.ts'

const bootstrap = fileURLToPath(entryUrl('bootstrap'))
// Output still open this long after the exit belongs to someone else (a grandchild holding the pipe).
const OUTPUT_GRACE_MS = 1000

// detached: its own process group, so a terminal's Ctrl-C reaches the parent only, which then stops its
// children in order (they die with it in any case; see docs/processes.md).
export function forkBootstrap(launch: Launch): ChildProcess {
  return fork(bootstrap, [], {
    env: launch.env,
    execArgv: bootstrapExecArgv(launch.execArgv),
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  })
}

export class ProcessAttempt extends Attempt {
  readonly kind = 'process'
  #child!: ChildProcess
  readonly #cpu = new CpuMeter()
  // A warm child that has not said it took the job: one that dies meanwhile (killed from outside just
  // as it was taken, before the pool heard of it) never ran the job, and a fresh process runs it.
  #untaken: boolean
  // stop() or kill() reached for the child: a warm one that dies then is not replaced.
  #stopping = false

  constructor(options: LaunchOptions) {
    super(options)
    this.#untaken = options.warm !== undefined
    this.#run(options.warm ?? this.#fork())
  }

  #fork(): ChildProcess {
    const child = forkBootstrap({ env: this.options.env, execArgv: childExecArgv(this.options.execArgv) })
    this.options.watchdog?.watch(child)
    return child
  }

  // Gives `child` the job and settles the attempt when it exits.
  #run(child: ChildProcess): void {
    this.#child = child
    const prefix = `[${this.options.name}] `
    // Settled when the output has ended and the IPC channel is drained: no line or message is lost.
    const output = Promise.all([
      forwardLines(child.stdout, process.stdout, prefix),
      forwardLines(child.stderr, process.stderr, prefix, this.tail),
      new Promise((resolve) => child.once('disconnect', resolve)),
    ])
    child.on('message', (message: { t?: unknown } | null) => {
      if (message?.t === 'took') this.#untaken = false
      this.receive(message)
    })
    // Only a failure to start is news: a failed kill or send shows in how the child ends.
    child.on('error', (error) => {
      if (child.pid === undefined) this.exited(null, null, `could not start: ${error.message}`)
    })
    child.once('exit', (code, signal) => {
      if (this.#untaken && !this.#stopping) {
        this.#untaken = false
        return this.#run(this.#fork())
      }
      const late = setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
      }, OUTPUT_GRACE_MS)
      void output.then(() => {
        clearTimeout(late)
        this.exited(code, signal)
      })
    })
    this.register('starting')
    this.send(this.job)
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  get threadId(): undefined {
    return undefined
  }

  send(message: ToChild): void {
    if (message.t === 'abort') this.#stopping = true
    if (this.#child.connected) this.#child.send(message, (error) => void error)
  }

  protected terminate(signal: NodeJS.Signals): void {
    this.#stopping = true
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    try {
      this.#child.kill(signal)
    } catch {
      // gone already
    }
  }

  stats(): Promise<ChildStats> {
    return processStats(this.#child.pid, this.running, this.startedAt, this.#cpu)
  }
}
