// An attempt as a worker thread: same bootstrap contract as a process, over the worker's port.
import type { EventLoopUtilization } from 'node:perf_hooks'
import { MessageChannel, Worker } from 'node:worker_threads'
import { Attempt, type LaunchOptions } from './attempt.ts'
import { entryUrl, tsxRegisterUrls } from './launch.ts'
import type { ToChild } from './messages.ts'
import { forwardLines } from './output.ts'
import { SocketHost } from './socket-host.ts'
import { notRunning } from './stats.ts'
import type { ChildStats } from './types.ts'
import { THREAD_BOOT } from '../thread-boot.ts'

export class ThreadAttempt extends Attempt {
  readonly kind = 'thread'
  readonly #worker: Worker
  readonly #threadId: number
  #utilization: EventLoopUtilization | undefined
  // Why zstate ended the thread, if it did: the socket host could not serve it.
  #failure: string | undefined

  constructor(options: LaunchOptions) {
    super(options)
    // The thread's sockets live here (see thread-sockets.ts), on a port of their own.
    const { port1, port2 } = new MessageChannel()
    const sockets = new SocketHost(port1, (reason) => {
      this.#failure ??= reason
      this.terminate()
    })
    const worker = new Worker(THREAD_BOOT, {
      eval: true,
      workerData: {
        entry: entryUrl('thread-entry').href,
        tsx: tsxRegisterUrls(options.job.target),
        job: this.job,
        sockets: port2,
      },
      transferList: [port2],
      env: options.env,
      stdout: true,
      stderr: true,
    })
    this.#worker = worker
    this.#threadId = worker.threadId
    const prefix = `[${options.name}] `
    const output = Promise.all([
      forwardLines(worker.stdout, process.stdout, prefix),
      forwardLines(worker.stderr, process.stderr, prefix, this.tail),
    ])
    worker.on('message', (message) => this.receive(message))
    // An exception nothing in the thread caught: the thread ends, like a process would.
    let uncaught: string | undefined
    worker.on('error', (error) => {
      uncaught ??= error instanceof Error ? (error.stack ?? error.message) : String(error)
    })
    worker.once('exit', (code) => {
      sockets.close()
      void output.then(() => {
        // As Node reports it for a process, after the rest of its output: the stack, then its banner.
        if (uncaught !== undefined)
          for (const line of [...uncaught.split('\n'), '', `Node.js ${process.version}`]) {
            this.tail.push(line)
            process.stderr.write(`${prefix}${line}\n`)
          }
        this.exited(code, null, this.#failure)
      })
    })
    this.register('starting')
  }

  get pid(): number {
    return process.pid
  }

  get threadId(): number {
    return this.#threadId
  }

  // Throws when the message cannot be cloned; a thread on its way out just does not get it.
  send(message: ToChild): void {
    if (this.running) this.#worker.postMessage(message)
  }

  protected terminate(): void {
    void this.#worker.terminate()
  }

  protected override interrupt(): void {
    // no SIGTERM for a thread: it has until the end of the grace period
  }

  // A thread has no pid of its own: cpu is its event loop's utilisation, memory the process's RSS.
  async stats(): Promise<ChildStats> {
    if (!this.running) throw notRunning(process.pid)
    const now = this.#worker.performance.eventLoopUtilization()
    const delta =
      this.#utilization === undefined
        ? now
        : this.#worker.performance.eventLoopUtilization(now, this.#utilization)
    this.#utilization = now
    return {
      pid: process.pid,
      cpu: Math.round(delta.utilization * 1000) / 10,
      memory: process.memoryUsage.rss(),
      elapsed: Date.now() - this.startedAt,
    }
  }
}
