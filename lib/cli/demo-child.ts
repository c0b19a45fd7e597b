// A forked demo worker as the demo sees it: its messages by type, its exit, and a sure way to stop it.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { deferred } from '../deferred.ts'
import type { Deferred } from '../deferred.ts'
import { ProcessExitError } from '../errors.ts'
import { isWorkerMessage } from './demo-shared.ts'
import type { Role, WorkerMessage } from './demo-shared.ts'

type MessageOf<T extends WorkerMessage['type']> = Extract<WorkerMessage, { type: T }>

// Next to this module: demo-worker.js once built, demo-worker.ts when run through tsx.
const workerPath = fileURLToPath(
  new URL(`./demo-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
)

export class DemoChild {
  readonly name: string
  readonly #process: ChildProcess
  readonly #inbox: WorkerMessage[] = []
  readonly #waiting: { type: WorkerMessage['type']; deferred: Deferred<WorkerMessage> }[] = []
  readonly #closed = deferred<void>()
  #stderr = ''
  #failure: Error | undefined

  constructor(
    role: Role,
    name: string,
    tasks: number,
    env: NodeJS.ProcessEnv,
    onMessage: (m: WorkerMessage) => void,
  ) {
    this.name = name
    this.#process = fork(workerPath, [role, name, String(tasks)], {
      env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    this.#process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4096)
    })
    this.#process.on('message', (message) => {
      if (!isWorkerMessage(message)) return
      onMessage(message)
      const index = this.#waiting.findIndex((w) => w.type === message.type)
      if (index >= 0) this.#waiting.splice(index, 1)[0]?.deferred.resolve(message)
      else this.#inbox.push(message)
    })
    this.#process.on('error', (error) => this.#fail(error))
    // 'close' comes after the exit and after the IPC channel is drained, so no message is lost.
    this.#process.on('close', (exitCode, signal) => {
      const how = signal === null ? `with code ${exitCode}` : `on ${signal}`
      const lastLine = this.#stderr.trim().split('\n').at(-1) ?? ''
      const message = `${this.name} (pid ${this.pid}) exited ${how}${lastLine === '' ? '' : `: ${lastLine}`}`
      this.#fail(new ProcessExitError(message, { exitCode, signal, stderr: this.#stderr }))
      this.#closed.resolve()
    })
  }

  get pid(): number | undefined {
    return this.#process.pid
  }

  // The next message of this type, or the reason there will be none.
  next<T extends WorkerMessage['type']>(type: T): Promise<MessageOf<T>> {
    const index = this.#inbox.findIndex((m) => m.type === type)
    if (index >= 0) return Promise.resolve(this.#inbox.splice(index, 1)[0] as MessageOf<T>)
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const waiter = { type, deferred: deferred<WorkerMessage>() }
    this.#waiting.push(waiter)
    return waiter.deferred.promise as Promise<MessageOf<T>>
  }

  // Resolves once the process has exited and its channel is closed.
  get closed(): Promise<void> {
    return this.#closed.promise
  }

  // Kills the process unless it has already gone, and waits for it.
  async stop(): Promise<void> {
    const child = this.#process
    if (child.pid === undefined) return
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await this.#closed.promise
  }

  #fail(error: Error): void {
    this.#failure ??= error
    for (const waiter of this.#waiting.splice(0)) waiter.deferred.reject(this.#failure)
  }
}
