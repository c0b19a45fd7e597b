// The public shapes of the Processes API (API.md "Processes").
import type { Client } from '../client/client.ts'
import type { ServerOptions } from '../server/options.ts'

export interface ContextOptions {
  // Join this server instead of starting one (ZSTATE_ADDRESS is never read here).
  address?: string
  // Options of the server the context starts in a child process.
  server?: ServerOptions
  // Shown by `zstate top`.
  name?: string
}

export type ChildStatus = 'starting' | 'running' | 'exited' | 'failed'

export interface SpawnOptions {
  args?: unknown[]
  name?: string
  // A worker_thread instead of a process.
  thread?: boolean
  // How many more attempts start after a failed one (default 0).
  retries?: number
  // Which failures are retried (default: every one).
  retryOn?: (error: Error) => boolean
  // ms before the next attempt (default 0); `attempt` is the failed one's number, from 1.
  retryDelay?: number | ((attempt: number, error: Error) => number)
  env?: Record<string, string>
  signal?: AbortSignal
  // Node flags of a child process (default: the parent's, minus debugger, test runner and watch flags).
  execArgv?: string[]
}

export interface ChildStats {
  pid: number
  // % of one core (a thread: its event loop's utilisation).
  cpu: number
  // Resident set size in bytes (a thread: its whole process's).
  memory: number
  // ms since the current attempt started.
  elapsed: number
}

export interface ChildHandle<R = unknown> {
  readonly name: string
  readonly pid: number | undefined
  readonly threadId?: number | undefined
  readonly attempts: number
  readonly status: ChildStatus
  readonly exitCode: number | null
  wait(options?: { timeout?: number; signal?: AbortSignal }): Promise<R>
  stop(options?: { grace?: number }): Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
  stats(): Promise<ChildStats>
}

export interface MapOptions {
  // Workers in the pool (default: available parallelism).
  concurrency?: number
  // How many more times an item that throws is tried (default 0).
  retries?: number
  signal?: AbortSignal
  onProgress?: (done: number, total?: number) => void
  // Worker threads instead of processes.
  thread?: boolean
  // Node flags of the worker processes, as for spawn.
  execArgv?: string[]
}

type Awaitable<T> = T | PromiseLike<T>

export type WorkerFunction<
  S extends object = Record<string, unknown>,
  R = unknown,
  A extends unknown[] = any[],
> = (ctx: WorkerContext<S>, ...args: A) => Awaitable<R>

export type MapFunction<S extends object = Record<string, unknown>, T = any, R = unknown> = (
  ctx: WorkerContext<S>,
  item: T,
  index: number,
) => Awaitable<R>

export interface Spawner<S extends object> {
  spawn<F extends WorkerFunction<S>>(target: F, options?: SpawnOptions): ChildHandle<Awaited<ReturnType<F>>>
  spawn<R = unknown>(target: URL | string, options?: SpawnOptions): ChildHandle<R>
  map<T, F extends MapFunction<S, T>>(
    target: F,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<ReturnType<F>>[]>
  map<T, R = unknown>(
    target: URL | string,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<R[]>
  readonly children: readonly ChildHandle<unknown>[]
}

export interface Context<S extends object = Record<string, unknown>> extends Client<S>, Spawner<S> {
  // Stops every child (handle.stop), then the server the context started.
  close(): Promise<void>
}

// What a worker function gets: the child's own context, and `signal`, aborted by stop().
export interface WorkerContext<S extends object = Record<string, unknown>>
  extends Omit<Client<S>, 'close' | typeof Symbol.asyncDispose>, Spawner<S> {
  readonly signal: AbortSignal
  // This child's name, as its parent's handle shows it.
  readonly name: string
}
