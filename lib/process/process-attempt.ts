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
  readonly #child: ChildProcess
  readonly #cpu = new CpuMeter()

  constructor(options: LaunchOptions) {
    super(options)
    const child =
      options.warm ?? forkBootstrap({ env: options.env, execArgv: childExecArgv(options.execArgv) })
    this.#child = child
    if (options.warm === undefined) options.watchdog?.watch(child)
    const prefix = `[${options.name}] `
    // Settled when the output has ended and the IPC channel is drained: no line or message is lost.
    const output = Promise.all([
      forwardLines(child.stdout, process.stdout, prefix),
      forwardLines(child.stderr, process.stderr, prefix, this.tail),
      new Promise((resolve) => child.once('disconnect', resolve)),
    ])
    child.on('message', (message) => this.receive(message))
    // Only a failure to start is news: a failed kill or send shows in how the child ends.
    child.on('error', (error) => {
      if (child.pid === undefined) this.exited(null, null, `could not start: ${error.message}`)
    })
    child.once('exit', (code, signal) => {
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
    if (this.#child.connected) this.#child.send(message, (error) => void error)
  }

  protected terminate(signal: NodeJS.Signals): void {
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
