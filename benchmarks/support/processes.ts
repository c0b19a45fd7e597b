import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

// Benchmarks put client and server in different OS processes, as real users do. A "side" is such a
// process: a module under benchmarks/sides that calls serveSide(handlers). The parent drives it with
// call() over Node's IPC channel (control only; measured traffic goes over zeromq) and receives the
// side's emit()s with next().

type Handler = (...args: any[]) => unknown

type ToSide = { type: 'call'; id: number; method: string; args: unknown[] } | { type: 'stop' }
type FromSide =
  | { type: 'ready' }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; message: string; stack: string | undefined }
  | { type: 'event'; name: string; data: unknown }

export interface Side {
  readonly pid: number
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>
  // The side's next emit(name) not yet taken; events that arrive early are queued.
  next<T = unknown>(name: string): Promise<T>
  stop(): Promise<void>
}

export interface SideOptions {
  readonly exposeGc?: boolean // for sides that report memory after a full collection
}

const tsxLoader = import.meta.resolve('tsx')

export async function forkSide(module: URL, options: SideOptions = {}): Promise<Side> {
  const child = fork(fileURLToPath(module), [], {
    execArgv: ['--import', tsxLoader, ...(options.exposeGc === true ? ['--expose-gc'] : [])],
    serialization: 'advanced', // structured clone: numbers arrays and bigints cross unchanged
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = once(child, 'exit')
  await new Promise<void>((resolve, reject) => {
    const onMessage = (message: FromSide): void => {
      if (message.type !== 'ready') return
      child.off('message', onMessage)
      resolve()
    }
    child.on('message', onMessage)
    exited.then(
      ([code]) =>
        reject(new Error(`side ${module.pathname} exited with ${String(code)} before it was ready`)),
      reject,
    )
  })
  return new SideProcess(child, exited)
}

class SideProcess implements Side {
  readonly #child: ChildProcess
  readonly #exited: Promise<unknown>
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  readonly #events = new Map<string, unknown[]>()
  readonly #waiters = new Map<string, ((data: unknown) => void)[]>()
  #nextId = 1

  constructor(child: ChildProcess, exited: Promise<unknown>) {
    this.#child = child
    this.#exited = exited
    child.on('message', (message: FromSide) => this.#receive(message))
    void exited.then(() => {
      for (const { reject } of this.#pending.values()) reject(new Error(`side ${this.pid} exited`))
      this.#pending.clear()
    })
  }

  get pid(): number {
    return this.#child.pid ?? -1
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#send({ type: 'call', id, method, args })
    })
  }

  next<T>(name: string): Promise<T> {
    const queued = this.#events.get(name)
    if (queued !== undefined && queued.length > 0) return Promise.resolve(queued.shift() as T)
    return new Promise<T>((resolve) => {
      const waiters = this.#waiters.get(name) ?? []
      waiters.push(resolve as (data: unknown) => void)
      this.#waiters.set(name, waiters)
    })
  }

  // Asks the side to clean up (close sockets, remove files) and exit; kills it if it does not.
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    this.#send({ type: 'stop' })
    const killer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000)
    await this.#exited
    clearTimeout(killer)
  }

  #send(message: ToSide): void {
    this.#child.send(message)
  }

  #receive(message: FromSide): void {
    if (message.type === 'event') {
      const waiter = this.#waiters.get(message.name)?.shift()
      if (waiter !== undefined) return waiter(message.data)
      const queued = this.#events.get(message.name) ?? []
      queued.push(message.data)
      this.#events.set(message.name, queued)
      return
    }
    if (message.type !== 'result') return
    const pending = this.#pending.get(message.id)
    this.#pending.delete(message.id)
    if (pending === undefined) return
    if (message.ok) return pending.resolve(message.value)
    const error = new Error(`side ${this.pid}: ${message.message}`)
    if (message.stack !== undefined)
      error.stack = `${error.message}\n--- in the side process ---\n${message.stack}`
    pending.reject(error)
  }
}

// In a side process: answer the parent's calls with `handlers`, run `onStop` when asked to stop,
// and exit when the parent goes away (a 'disconnect' listener would otherwise keep us alive).
export function serveSide(
  handlers: Record<string, Handler>,
  onStop: () => Promise<void> | void = () => {},
): void {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('a side module must be started with forkSide()')
  process.on('disconnect', () => process.exit(0))
  process.on('message', (message: ToSide) => {
    if (message.type === 'stop') {
      void (async () => {
        await onStop()
        process.exit(0)
      })().catch((error: unknown) => {
        console.error(error)
        process.exit(1)
      })
      return
    }
    const handler = handlers[message.method]
    void (async () => {
      if (handler === undefined) throw new Error(`unknown side method ${message.method}`)
      return handler(...message.args)
    })().then(
      (value) => send({ type: 'result', id: message.id, ok: true, value } satisfies FromSide),
      (error: unknown) => {
        const { message: text, stack } =
          error instanceof Error ? error : { message: String(error), stack: undefined }
        send({ type: 'result', id: message.id, ok: false, message: text, stack } satisfies FromSide)
      },
    )
  })
  send({ type: 'ready' } satisfies FromSide)
}

// In a side process: push an event to the parent's next(name).
export function emit(name: string, data: unknown): void {
  process.send?.({ type: 'event', name, data } satisfies FromSide)
}

// Stops every side even when one stop fails; used in finally blocks.
export async function stopAll(sides: readonly Side[]): Promise<void> {
  await Promise.allSettled(sides.map((side) => side.stop()))
}
