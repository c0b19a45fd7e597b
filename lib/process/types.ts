// The public shapes of the Processes API (docs/processes.md), in a module that imports no
// implementation, so the published declarations never reach one.
import type { Client } from '../client/types.ts'
import type { ServerOptions } from '../server/types.ts'

/** A context's own server: `curve.authorizedKeys` may be left out (the context's key only). */
export type ContextServerOptions = Omit<ServerOptions, 'curve'> & {
  curve?: Omit<NonNullable<ServerOptions['curve']>, 'authorizedKeys'> & {
    authorizedKeys?: NonNullable<ServerOptions['curve']>['authorizedKeys']
  }
}

/** Options of `createContext()`. */
export interface ContextOptions {
  /**
   * Join the server at this address instead of starting one (`ZSTATE_ADDRESS` is never read here),
   * or several etcd gateways to one state (docs/scale-out.md): the context and its children fail
   * over between them.
   */
  address?: string | readonly string[]
  /**
   * Options of the server the context starts in a child process (not with `address`). With
   * `server.curve`, the context makes a key pair for itself and its children and adds its public key
   * to `authorizedKeys` (unless that is `'any'`); without `authorizedKeys`, that key is the only one.
   */
  server?: ContextServerOptions
  /**
   * CurveZMQ credentials for joining the server at `address` (docs/security.md): its public key and
   * a key pair it authorizes, from `generateKeyPair()`. Children get them from their parent, never
   * through their command line or environment. A refused handshake is ERR_UNAUTHORIZED at once.
   */
  curve?: { serverKey: string; publicKey: string; secretKey: string }
  /** The context's name, shown by `zstate top`; default `context <script file name>`. */
  name?: string
  /**
   * Warm children: processes started ahead that have loaded zstate and wait for a job; `spawn` and
   * `map` take one when its environment, Node flags and working directory fit (thread children never
   * do). Each runs one target, then exits and is replaced. `size` default the available parallelism;
   * `idleTimeout` (ms, default 30 000) lets an unused one go; `execArgv`: their Node flags, as for
   * spawn (a spawn takes one only with the same flags).
   */
  pool?: { size?: number; idleTimeout?: number; execArgv?: string[] }
}

/** Where a child is in its life: `exited` once it reported its result, `failed` once it gave up. */
export type ChildStatus = 'starting' | 'running' | 'exited' | 'failed'

/** Options of `spawn()`. */
export interface SpawnOptions {
  /** Extra arguments of the worker function, after `ctx`; structured-cloneable. Default none. */
  args?: unknown[]
  /** The child's name, as `handle.name` and `zstate top` show it; default `<module or function name>-<n>`. */
  name?: string
  /** Run it in a worker_thread instead of a process; default false. */
  thread?: boolean
  /**
   * How many more attempts start after a failed one; default 0. `Infinity`: until one succeeds or the
   * child is stopped (`signal`, `stop()`, the context closing), with a back-off by default (retryDelay).
   */
  retries?: number
  /** Which failures are retried; default every one (RemoteError or ProcessExitError). */
  retryOn?: (error: Error) => boolean
  /**
   * ms before the next attempt, or a function of the failed attempt (numbered from 1) and error;
   * default 0, or with `retries: Infinity` 10 ms doubling per failure up to 1 s.
   */
  retryDelay?: number | ((attempt: number, error: Error) => number)
  /** Environment variables added to the parent's (a child process only). */
  env?: Record<string, string>
  /** Aborting it stops the child, as `handle.stop()` does; `wait()` then rejects with its reason. */
  signal?: AbortSignal
  /** Node flags of a child process; default the parent's, minus debugger, test runner and watch flags. */
  execArgv?: string[]
  /** Start this many children of `target` at once: `spawn` returns an array of handles. */
  count?: number
  /**
   * Key prefixes the child's state replicates, as connect's `replicate`: it receives no commits of
   * other keys, and reading one throws ERR_INVALID_ARGUMENT. `[]`: none. Default: everything.
   */
  replicate?: string[]
}

/** A child's resource use, as `handle.stats()` measures it. */
export interface ChildStats {
  /** The child's process id (a thread: its parent's). */
  pid: number
  /** % of one core (a thread: its event loop's utilisation). */
  cpu: number
  /** Resident set size in bytes (a thread: its whole process's). */
  memory: number
  /** ms since the current attempt started. */
  elapsed: number
}

/** A spawned child, as its parent holds it; `R` is what its worker function returns. */
export interface ChildHandle<R = unknown> {
  /** The child's name (`SpawnOptions.name`, or one made up from its target). */
  readonly name: string
  /** The current attempt's process id; `undefined` before it starts. */
  readonly pid: number | undefined
  /** The current attempt's worker thread id (`thread: true` only). */
  readonly threadId?: number | undefined
  /** Attempts started so far: 1 + retries used. */
  readonly attempts: number
  /** Where the child is in its life. */
  readonly status: ChildStatus
  /** The last attempt's exit code; `null` while running or when it was ended by a signal. */
  readonly exitCode: number | null
  /**
   * Resolves with the worker function's result; rejects with the last failure (RemoteError,
   * ProcessExitError), or the stop reason. `timeout` (ms; default no limit) → ERR_TIMEOUT.
   */
  wait(options?: { timeout?: number; signal?: AbortSignal }): Promise<R>
  /**
   * Stops the child: aborts its `ctx.signal`, then SIGTERM, then SIGKILL after `grace` ms
   * (default 5 000). Resolves once it is gone; no further attempts start.
   */
  stop(options?: { grace?: number }): Promise<void>
  /** Sends `signal` (default SIGKILL) at once; resolves once the child is gone; no further attempts start. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** The current attempt's CPU, memory and elapsed time. */
  stats(): Promise<ChildStats>
}

/** Options of `map()`. */
export interface MapOptions {
  /** Extra arguments for every call, after `index`: `(ctx, item, index, ...args)`; structured-cloneable. */
  args?: unknown[]
  /** Workers in the pool; default the available parallelism. */
  concurrency?: number
  /** How many more times an item whose call fails is tried; default 0. */
  retries?: number
  /** Aborting it stops the pool and rejects `map` with `signal.reason`. */
  signal?: AbortSignal
  /** Called as items complete, and always once with `done === total` before `map` resolves. */
  onProgress?: (done: number, total?: number) => void
  /** Worker threads instead of processes; default false. */
  thread?: boolean
  /** Node flags of the worker processes, as for spawn. */
  execArgv?: string[]
  /** Key prefixes every worker's state replicates, as for spawn; default everything. */
  replicate?: string[]
}

type Awaitable<T> = T | PromiseLike<T>

/** A worker module's default export (or a self-contained function): `(ctx, ...args) => result`. */
export type WorkerFunction<
  S extends object = Record<string, unknown>,
  R = unknown,
  // any, not unknown: a worker function written without types gets untyped arguments, as in
  // JavaScript (unknown would refuse typed ones, never[] would make every argument never).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  A extends unknown[] = any[],
> = (ctx: WorkerContext<S>, ...args: A) => Awaitable<R>

/** What `map()` runs for each item: `(ctx, item, index, ...args) => result` (`args`: MapOptions.args). */
// T is any by default for the same reason as WorkerFunction's arguments.
export type MapFunction<
  S extends object = Record<string, unknown>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  T = any,
  R = unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  A extends unknown[] = any[],
> = (ctx: WorkerContext<S>, item: T, index: number, ...args: A) => Awaitable<R>

/** One result of `mapUnordered()`: the item's index in the input, and what the call returned. */
export interface MapResult<R> {
  readonly index: number
  readonly value: R
}

/** Options of `wait()` on a context: every child it holds. */
export interface WaitOptions {
  /** ms; default no limit → ERR_TIMEOUT (the children go on running). */
  timeout?: number
  /** Aborting it rejects with `signal.reason` (the children go on running). */
  signal?: AbortSignal
}

/** What contexts and worker contexts share: starting children. */
export interface Spawner<S extends object> {
  /** With `count`: that many children of the same target and options, named `<name>-1`, `<name>-2`, …. */
  spawn<F extends WorkerFunction<S>>(
    target: F,
    options: SpawnOptions & { count: number },
  ): ChildHandle<Awaited<ReturnType<F>>>[]
  spawn<R = unknown>(
    target: URL | string | WorkerFunction<S, R>,
    options: SpawnOptions & { count: number },
  ): ChildHandle<R>[]
  /**
   * Starts `target` in a child process (or thread): a function, sent as source text, so
   * self-contained. Returns at once; the handle's `wait()` gives the result.
   */
  spawn<F extends WorkerFunction<S>>(target: F, options?: SpawnOptions): ChildHandle<Awaited<ReturnType<F>>>
  /**
   * Starts the default export of the module `target` (a path or URL) in a child process (or thread);
   * or a function whose result type is given (`spawn<number>(fn)`).
   */
  spawn<R = unknown>(target: URL | string | WorkerFunction<S, R>, options?: SpawnOptions): ChildHandle<R>
  /**
   * Waits for every child in `children` (every child spawned since the last ctx.wait() that handed
   * it over, whatever its own handle's wait() returned): their results in spawn order; rejects with
   * the first failure, leaving the others running.
   */
  wait(options?: WaitOptions): Promise<unknown[]>
  /**
   * Calls `target(ctx, item, index)` for every item on a pool of workers; resolves with the
   * results in input order. Async iterables are pulled lazily.
   */
  map<T, F extends MapFunction<S, T>>(
    target: F,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<ReturnType<F>>[]>
  /** `map()` with the default export of the module `target` (a path or URL), or a function whose types are given. */
  map<T, R = unknown>(
    target: URL | string | MapFunction<S, T, R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<R[]>
  /**
   * `map()` with results as they complete, in any order: `{ index, value }` per item. Items are
   * dispatched only while fewer than a few batches' results wait to be read; `break` (or `return()`)
   * stops the workers, and a failure is thrown by the next `next()`.
   */
  mapUnordered<T, F extends MapFunction<S, T>>(
    target: F,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<MapResult<Awaited<ReturnType<F>>>>
  /** `mapUnordered()` with the default export of the module `target` (a path or URL), or a function whose types are given. */
  mapUnordered<T, R = unknown>(
    target: URL | string | MapFunction<S, T, R>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<MapResult<R>>
  /** Every child spawned and not yet handed over by ctx.wait(), in spawn order. */
  readonly children: readonly ChildHandle<unknown>[]
}

/** A Client that owns its children, and the server it started (unless given an `address`). */
export interface Context<S extends object = Record<string, unknown>> extends Client<S>, Spawner<S> {
  /** Stops every child (`handle.stop()`), then the server the context started; idempotent. */
  close(): Promise<void>
}

/** What a worker function gets: the child's own context (state, spawn, map, messaging) and `signal`. */
export interface WorkerContext<S extends object = Record<string, unknown>>
  extends Omit<Client<S>, 'close' | typeof Symbol.asyncDispose>, Spawner<S> {
  /** Aborted when the parent stops this child: finish up and return. */
  readonly signal: AbortSignal
  /** This child's name, as its parent's handle shows it. */
  readonly name: string
}
