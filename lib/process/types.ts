// The public shapes of the Processes API (docs/processes.md), in a module that imports no
// implementation, so the published declarations never reach one.
import type { Client } from '../client/types.ts'
import type { ServerOptions } from '../server/types.ts'

/** A context's own server: `curve.authorizedKeys` may be left out (the context's key only). */
export type ContextServerOptions = Omit<ServerOptions, 'curve'> & {
  curve?:
    | (Omit<NonNullable<ServerOptions['curve']>, 'authorizedKeys'> & {
        authorizedKeys?: NonNullable<ServerOptions['curve']>['authorizedKeys'] | undefined
      })
    | undefined
}

/**
 * Options of `createContext()`: start a server in a child process (`server`), or join one
 * (`address`, with `curve` for a CurveZMQ server). A union, so that options of the one way with the
 * other's (`address` with `server`, `curve` without `address`) do not compile: the runtime refuses them.
 */
export type ContextOptions = OwnServerContextOptions | JoiningContextOptions

/** What every context takes, whatever its server. */
interface CommonContextOptions {
  /** The context's name, shown by `zstate top`; default `context <script file name>`. */
  name?: string | undefined
  /**
   * Warm children: processes started ahead that have loaded zstate and wait for a job; `spawn` and
   * `map` take one when its environment, Node flags and working directory fit (thread children never
   * do). Each runs one target, then exits and is replaced. `size` default the available parallelism;
   * `idleTimeout` (ms, default 30 000) lets an unused one go; `execArgv`: their Node flags, as for
   * spawn (a spawn takes one only with the same flags).
   */
  pool?:
    | { size?: number | undefined; idleTimeout?: number | undefined; execArgv?: string[] | undefined }
    | undefined
}

/** A context that starts its own server. */
interface OwnServerContextOptions extends CommonContextOptions {
  /**
   * Options of the server the context starts in a child process. With `server.curve`, the context
   * makes a key pair for itself and its children and adds its public key to `authorizedKeys` (unless
   * that is `'any'`); without `authorizedKeys`, that key is the only one.
   */
  server?: ContextServerOptions | undefined
  /** Only to join a server: a context given `address` starts none. */
  address?: undefined
  /** Only to join a server at `address`; a context's own server takes `server.curve`. */
  curve?: undefined
}

/** A context that joins the server at `address` (given `undefined`, it starts one, as without `address`). */
interface JoiningContextOptions extends CommonContextOptions {
  /**
   * Join the server at this address instead of starting one (`ZSTATE_ADDRESS` is never read here),
   * or several etcd gateways to one state (docs/scale-out.md): the context and its children fail
   * over between them.
   */
  address: string | readonly string[] | undefined
  /**
   * CurveZMQ credentials for joining the server at `address` (docs/security.md): its public key and
   * a key pair it authorizes, from `generateKeyPair()`. Children get them from their parent, never
   * through their command line or environment. A refused handshake is ERR_UNAUTHORIZED at once.
   */
  curve?: { serverKey: string; publicKey: string; secretKey: string } | undefined
  /** Only for a context that starts its own server (no `address`). */
  server?: undefined
}

/** Where a child is in its life: `exited` once it reported its result, `failed` once it gave up. */
export type ChildStatus = 'starting' | 'running' | 'exited' | 'failed'

/** Options of `spawn()`; `A` types `args`, the worker function's arguments after `ctx`. */
export interface SpawnOptions<A extends unknown[] = unknown[]> {
  /** Extra arguments of the worker function, after `ctx`; structured-cloneable. Default none. */
  args?: A | undefined
  /** The child's name, as `handle.name` and `zstate top` show it; default `<module or function name>-<n>`. */
  name?: string | undefined
  /** Run it in a worker_thread instead of a process; default false. */
  thread?: boolean | undefined
  /**
   * How many more attempts start after a failed one; default 0. `Infinity`: until one succeeds or the
   * child is stopped (`signal`, `stop()`, the context closing), with a back-off by default (retryDelay).
   */
  retries?: number | undefined
  /** Which failures are retried; default every one (RemoteError or ProcessExitError). */
  retryOn?: ((error: Error) => boolean) | undefined
  /**
   * ms before the next attempt, or a function of the failed attempt (numbered from 1) and error;
   * default 0, or with `retries: Infinity` 10 ms doubling per failure up to 1 s.
   */
  retryDelay?: number | ((attempt: number, error: Error) => number) | undefined
  /** Environment variables added to the parent's (a child process only). */
  env?: Record<string, string> | undefined
  /** Aborting it stops the child, as `handle.stop()` does; `wait()` then rejects with its reason. */
  signal?: AbortSignal | undefined
  /** Node flags of a child process; default the parent's, minus debugger, test runner and watch flags. */
  execArgv?: string[] | undefined
  /**
   * Not here: with `count`, `spawn` returns an array of handles, so its options are SpawnManyOptions.
   * `undefined` (one child) is accepted.
   */
  count?: undefined
  /**
   * Key prefixes the child's state replicates, as connect's `replicate`: it receives no commits of
   * other keys, and reading one throws ERR_INVALID_ARGUMENT. `[]`: none. Default: everything.
   */
  replicate?: string[] | undefined
}

/** Options of `spawn()` that start `count` children of one target at once. */
export interface SpawnManyOptions<A extends unknown[] = unknown[]> extends Omit<SpawnOptions<A>, 'count'> {
  /** How many children to start (an integer ≥ 1): `spawn` returns an array of their handles. */
  count: number
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
  wait(options?: WaitOptions): Promise<R>
  /**
   * Stops the child: aborts its `ctx.signal`, then SIGTERM, then SIGKILL after `grace` ms
   * (default 5 000). Resolves once it is gone; no further attempts start.
   */
  stop(options?: { grace?: number | undefined }): Promise<void>
  /** Sends `signal` (default SIGKILL) at once; resolves once the child is gone; no further attempts start. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** The current attempt's CPU, memory and elapsed time. */
  stats(): Promise<ChildStats>
}

/** Options of `map()`; `A` types `args`, the map function's arguments after `index`. */
export interface MapOptions<A extends unknown[] = unknown[]> {
  /** Extra arguments for every call, after `index`: `(ctx, item, index, ...args)`; structured-cloneable. */
  args?: A | undefined
  /** Workers in the pool; default the available parallelism. */
  concurrency?: number | undefined
  /** How many more times an item whose call fails is tried; default 0. */
  retries?: number | undefined
  /** Aborting it stops the pool and rejects `map` with `signal.reason`. */
  signal?: AbortSignal | undefined
  /** Called as items complete, and always once with `done === total` before `map` resolves. */
  onProgress?: ((done: number, total?: number) => void) | undefined
  /** Worker threads instead of processes; default false. */
  thread?: boolean | undefined
  /** Node flags of the worker processes, as for spawn. */
  execArgv?: string[] | undefined
  /** Key prefixes every worker's state replicates, as for spawn; default everything. */
  replicate?: string[] | undefined
}

type Awaitable<T> = T | PromiseLike<T>

/**
 * A worker module's default export (or a self-contained function): `(ctx, ...args) => result`. `A`
 * types the arguments after `ctx` (SpawnOptions.args); left out, they are `unknown`.
 */
// Declared as a method, whose parameters are compared both ways: a function that annotates its own
// arguments (`(ctx, by: number) => …`) still fits the default `unknown[]`, where a function type
// (strictFunctionTypes) would refuse it; unannotated ones are `unknown`, never `any`.
export type WorkerFunction<
  S extends object = Record<string, unknown>,
  R = unknown,
  A extends unknown[] = unknown[],
> = { worker(ctx: WorkerContext<S>, ...args: A): Awaitable<R> }['worker']

/** What `map()` runs for each item: `(ctx, item, index, ...args) => result` (`args`: MapOptions.args). */
// A method for the same reason as WorkerFunction: an annotated `item` fits the default `unknown`.
export type MapFunction<
  S extends object = Record<string, unknown>,
  T = unknown,
  R = unknown,
  A extends unknown[] = unknown[],
> = { map(ctx: WorkerContext<S>, item: T, index: number, ...args: A): Awaitable<R> }['map']

/** One result of `mapUnordered()`: the item's index in the input, and what the call returned. */
export interface MapResult<R> {
  readonly index: number
  readonly value: R
}

/** Options of `wait()` on a context: every child it holds. */
export interface WaitOptions {
  /** ms; default no limit → ERR_TIMEOUT (the children go on running). */
  timeout?: number | undefined
  /** Aborting it rejects with `signal.reason` (the children go on running). */
  signal?: AbortSignal | undefined
}

/**
 * What contexts and worker contexts share: starting children. (`A extends [] | unknown[]` infers
 * `args: ['x', 1]` as a tuple, so that each argument of the worker keeps its own type.)
 */
export interface Spawner<S extends object> {
  /**
   * Starts `target` in a child process (or thread): the default export of a module (a path or URL),
   * or a function, sent as source text, so self-contained. Returns at once; the handle's `wait()`
   * gives the result. `R`: what the worker returns (inferred from a function); `A`: its arguments
   * after `ctx`, which `args` must match.
   */
  spawn<R = unknown, A extends [] | unknown[] = unknown[]>(
    target: URL | string | WorkerFunction<S, R, A>,
    options?: SpawnOptions<A>,
  ): ChildHandle<R>
  /** With `count`: that many children of the same target and options, named `<name>-1`, `<name>-2`, …. */
  spawn<R = unknown, A extends [] | unknown[] = unknown[]>(
    target: URL | string | WorkerFunction<S, R, A>,
    options: SpawnManyOptions<A>,
  ): ChildHandle<R>[]
  /** With a `count` that may be `undefined`: one handle without it, an array with it. */
  spawn<R = unknown, A extends [] | unknown[] = unknown[]>(
    target: URL | string | WorkerFunction<S, R, A>,
    options: Omit<SpawnOptions<A>, 'count'> & { count?: number | undefined },
  ): ChildHandle<R> | ChildHandle<R>[]
  /**
   * Waits for every child in `children` (every child spawned since the last ctx.wait() that handed
   * it over, whatever its own handle's wait() returned): their results in spawn order; rejects with
   * the first failure, leaving the others running.
   */
  wait(options?: WaitOptions): Promise<unknown[]>
  /**
   * Calls `target(ctx, item, index, ...args)` for every item on a pool of workers; resolves with the
   * results in input order. Async iterables are pulled lazily. `target`: a function, or the default
   * export of a module (a path or URL), whose result type `R` is then given (`map<T, R>(url, items)`).
   */
  map<T, R = unknown, A extends [] | unknown[] = unknown[]>(
    target: URL | string | MapFunction<S, T, R, A>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions<A>,
  ): Promise<R[]>
  /**
   * `map()` with results as they complete, in any order: `{ index, value }` per item. Items are
   * dispatched only while fewer than a few batches' results wait to be read; `break` (or `return()`)
   * stops the workers, and a failure is thrown by the next `next()`.
   */
  mapUnordered<T, R = unknown, A extends [] | unknown[] = unknown[]>(
    target: URL | string | MapFunction<S, T, R, A>,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions<A>,
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
