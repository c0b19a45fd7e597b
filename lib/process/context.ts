// createContext() and the Context: a client that owns its children (and usually its server). The
// same class is the WorkerContext a child gets, so children spawn grandchildren the same way.
import { basename } from 'node:path'
import { ErrorCode, ZStateError } from '../errors.ts'
import { ClientImpl } from '../connect.ts'
import type { CurveCredentials } from '../link/handshake.ts'
import { checkConnectAddress } from '../protocol/address.ts'
import type { Attempt, LaunchOptions, LaunchRequest } from './attempt.ts'
import { ChildHandleImpl, type ChildHost, type HeldChild } from './child.ts'
import { streamMap, type MapHost } from './map.ts'
import { checkContextOptions, checkMapOptions, checkSpawnOptions, DEFAULT_GRACE } from './options.ts'
import { bounded, checkWaitOptions } from '../wait.ts'
import { Registration } from './registration.ts'
import type { ServerProcess } from './server-process.ts'
import { resolveTarget } from './target.ts'
import type {
  ChildHandle,
  Context,
  ContextOptions,
  MapOptions,
  MapResult,
  SpawnManyOptions,
  SpawnOptions,
  WaitOptions,
} from './types.ts'
import type { Watchdog } from './watchdog.ts'
import { childExecArgv } from './launch.ts'
import type { Launch, PoolOptions, WarmPool } from './warm-pool.ts'

type AttemptKind = new (options: LaunchOptions) => Attempt
let ProcessKind: AttemptKind | undefined
let ThreadKind: AttemptKind | undefined

export async function createContext<S extends object = Record<string, unknown>>(
  options?: ContextOptions,
): Promise<Context<S>> {
  const { address, server: serverOptions, name, curve, pool } = checkContextOptions(options)
  if (address !== undefined) for (const one of address) checkConnectAddress(one)
  // Loaded when used: a child that never starts a server or a grandchild does not pay for that code.
  let server: ServerProcess | undefined
  let watchdog: Watchdog | undefined
  if (address === undefined) {
    // The server dies with this process too, even when too busy to notice: the watchdog sees to it.
    const [{ ServerProcess }, { Watchdog }] = await Promise.all([
      import('./server-process.ts'),
      import('./watchdog.ts'),
    ])
    watchdog = new Watchdog()
    try {
      server = await ServerProcess.start(serverOptions ?? {}, watchdog)
    } catch (error) {
      await watchdog.close()
      throw error
    }
  }
  const context = new ContextImpl<S>(server === undefined ? address! : [server.address], {
    name: name ?? `context ${basename(process.argv[1] ?? 'node')}`,
    server,
    watchdog,
    curve: server === undefined ? curve : server.curve,
  })
  await context.start() // closes the context, and so the server, if it fails
  await context.registration.open()
  if (pool !== undefined)
    await context.startPool(pool).catch(async (error: unknown) => {
      await context.close()
      throw error
    })
  return context
}

export interface ContextSettings {
  readonly name: string
  readonly server?: ServerProcess | undefined
  // Watches the server process; made on first launch otherwise.
  readonly watchdog?: Watchdog | undefined
  // A child's context: aborted when its parent stops it.
  readonly signal?: AbortSignal | undefined
  readonly timeout?: number
  // CURVE keys for the server, handed down to every child in its job message.
  readonly curve?: CurveCredentials | undefined
  // A child's context: the key prefixes it replicates (spawn's and map's `replicate`).
  readonly replicate?: readonly string[] | undefined
  // A child's context: the token its parent gave it, which the parent names once it has exited, so
  // that the server ends its session at once (lib/server/child-sessions.ts).
  readonly childToken?: string | undefined
}

export class ContextImpl<S extends object> extends ClientImpl<S> implements Context<S>, ChildHost, MapHost {
  readonly name: string
  readonly signal: AbortSignal
  readonly registration: Registration
  readonly #controller = new AbortController()
  readonly #server: ServerProcess | undefined
  readonly #curve: CurveCredentials | undefined
  #watchdog: Watchdog | undefined
  #pool: WarmPool | undefined
  readonly #handles = new Set<HeldChild>()
  readonly #attempts = new Set<Attempt>()
  readonly #maps = new Set<{ cancel(reason: unknown): Promise<void> }>()
  #nextChild = 1
  #closingContext: Promise<void> | undefined
  // Why the context closed on its own (its server died); undefined: closed by close(), or open.
  #cause: ZStateError | undefined

  // Its children join the same addresses: ZSTATE_ADDRESS holds them, separated by commas.
  readonly #addresses: readonly string[]

  constructor(addresses: readonly string[], settings: ContextSettings) {
    super(addresses, {
      timeout: settings.timeout ?? 10_000,
      requestTimeout: 30_000,
      heartbeatTimeout: undefined,
      name: settings.name,
      curve: settings.curve,
      replicate: settings.replicate,
      childToken: settings.childToken,
    })
    this.name = settings.name
    this.#addresses = addresses
    this.#server = settings.server
    this.#curve = settings.curve
    this.#watchdog = settings.watchdog
    this.signal = settings.signal ?? this.#controller.signal
    this.registration = new Registration(this, settings.name)
    this.useLinks(this.registration)
    const server = settings.server
    void server?.ended.then(({ exitCode, signal }) => {
      if (this.#closingContext !== undefined) return
      const how = signal === null ? `exited with code ${exitCode}` : `was killed by ${signal}`
      const state =
        server.dataDir === undefined
          ? 'the state it held is gone'
          : `its data dir (${server.dataDir}) keeps what it had made durable, for the next server there`
      this.#cause = new ZStateError(
        ErrorCode.CLOSED,
        `the context's state server (pid ${server.pid}) ${how}: ${state}, so the context closed`,
      )
      this.#closingContext = this.#shutdown(this.#cause)
    })
  }

  spawn<R>(target: unknown, options?: SpawnOptions | SpawnManyOptions): ChildHandle<R> & ChildHandle<R>[] {
    const resolved = resolveTarget(target, 'spawn')
    const spawnOptions = checkSpawnOptions(options)
    this.#checkOpen('spawn')
    const one = (name: string): ChildHandle<R> => {
      const handle = new ChildHandleImpl<R>(this, resolved, spawnOptions, name)
      this.#handles.add(handle)
      return handle
    }
    const { count, name } = spawnOptions
    // The overloads tell the two apart by `count`.
    type Spawned = ChildHandle<R> & ChildHandle<R>[]
    if (count === undefined) return one(name ?? this.nextName(resolved.label)) as Spawned
    return Array.from({ length: count }, (_, i) =>
      one(name === undefined ? this.nextName(resolved.label) : `${name}-${i + 1}`),
    ) as Spawned
  }

  // Every listed child's outcome (every child spawned since the last wait() that handed it over,
  // whether or not its own handle's wait() has returned); those handed to the caller (all results,
  // or the first failure) leave ctx.children, the others stay for the next wait().
  async wait(options?: WaitOptions): Promise<unknown[]> {
    checkWaitOptions(options, 'wait')
    const handles = [...this.#handles]
    // The first to fail, as Promise.all rejects with it.
    const failures: { handle: HeldChild; error: unknown }[] = []
    const outcomes = handles.map((handle) =>
      handle.outcome.catch((error: unknown) => {
        failures.push({ handle, error })
        throw error
      }),
    )
    try {
      const results = await bounded(Promise.all(outcomes), options, 'wait for the children')
      for (const handle of handles) this.#release(handle)
      return results
    } catch (error) {
      const [first] = failures
      if (first !== undefined && first.error === error) this.#release(first.handle)
      throw error
    }
  }

  // R is what the caller says its workers return: results cross from children unchecked, as a
  // handle's wait() result does.
  async map<R>(target: unknown, items: unknown, options?: MapOptions): Promise<R[]> {
    const resolved = resolveTarget(target, 'map')
    const mapOptions = checkMapOptions(options)
    this.#checkOpen('map')
    const { runMap } = await import('./map.ts')
    return (await runMap(this, resolved, items, mapOptions)) as R[]
  }

  mapUnordered<R>(
    target: unknown,
    items: unknown,
    options?: MapOptions,
  ): AsyncIterableIterator<MapResult<R>> {
    const resolved = resolveTarget(target, 'mapUnordered')
    const mapOptions = checkMapOptions(options)
    this.#checkOpen('mapUnordered')
    return streamMap(this, resolved, items, mapOptions) as AsyncIterableIterator<MapResult<R>>
  }

  get children(): readonly ChildHandle<unknown>[] {
    return Object.freeze([...this.#handles])
  }

  // Loads the code of a kind of child on first use: a child that spawns nothing does not pay for it.
  async prepare(thread: boolean): Promise<void> {
    if (thread) {
      ThreadKind ??= (await import('./thread-attempt.ts')).ThreadAttempt
      return
    }
    const [{ ProcessAttempt }, { Watchdog }] = await Promise.all([
      import('./process-attempt.ts'),
      import('./watchdog.ts'),
    ])
    ProcessKind ??= ProcessAttempt
    this.#watchdog ??= new Watchdog()
  }

  // createContext({ pool }): warm children that spawn and map take first.
  async startPool(options: PoolOptions): Promise<void> {
    await this.prepare(false)
    const [{ forkBootstrap }, { WarmPool }] = await Promise.all([
      import('./process-attempt.ts'),
      import('./warm-pool.ts'),
    ])
    this.#checkOpen('createContext')
    const execArgv = childExecArgv(options.execArgv)
    const launch = (): Launch => ({ env: this.childEnv({}), execArgv })
    this.#pool = new WarmPool(options, forkBootstrap, launch, this.#watchdog!)
  }

  // The warm pool, if the context has one (specs and benchmarks wait for it to fill).
  get warmPool(): WarmPool | undefined {
    return this.#pool
  }

  // Every child of this context, spawned or a map worker, starts here (after prepare()).
  launch(thread: boolean, options: LaunchRequest): Attempt {
    const Kind = thread ? ThreadKind : ProcessKind
    if (Kind === undefined || (!thread && this.#watchdog === undefined))
      throw new Error('zstate: launch() before prepare()')
    this.#checkOpen('spawn')
    void this.registration.open()
    const warm = thread
      ? undefined
      : this.#pool?.take({ env: options.env, execArgv: childExecArgv(options.execArgv) })
    const attempt = new Kind({
      ...options,
      warm,
      // The keys go in the job message (IPC, or workerData for a thread): never in the child's
      // command line or environment, where other local users could read them.
      job: this.#curve === undefined ? options.job : { ...options.job, curve: this.#curve },
      registrar: this.registration,
      watchdog: thread ? undefined : this.#watchdog,
    })
    this.#attempts.add(attempt)
    void attempt.outcome.then(() => this.#attempts.delete(attempt))
    return attempt
  }

  childEnv(extra: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value
    return { ...env, ...extra, ZSTATE_ADDRESS: this.#addresses.join(',') }
  }

  // ctx.wait() handed the handle's outcome to its caller: it leaves ctx.children.
  #release(handle: HeldChild): void {
    this.#handles.delete(handle)
  }

  track(map: { cancel(reason: unknown): Promise<void> }): () => void {
    this.#maps.add(map)
    return () => this.#maps.delete(map)
  }

  nextName(label: string): string {
    return `${label}-${this.#nextChild++}`
  }

  override close(): Promise<void> {
    this.#closingContext ??= this.#shutdown()
    return this.#closingContext
  }

  // Signals every child at once, waits for all of them, then closes the client, the server and the
  // watchdog. Nothing here waits on the server for long: a lost one cannot hold up a close. With a
  // `cause` (the server died), what waits on the server fails with it at once, and `closed` says it.
  async #shutdown(cause?: ZStateError): Promise<void> {
    const reason = cause ?? new ZStateError(ErrorCode.CLOSED, 'the context was closed')
    const client = cause === undefined ? undefined : this.closeFor(cause)
    this.#pool?.close()
    this.#controller.abort(reason)
    await Promise.allSettled([
      ...[...this.#maps].map((map) => map.cancel(reason)),
      ...[...this.#handles].map((handle) => handle.stopFor(reason)),
    ])
    // Anything still running (a handle released early) goes the same way.
    await Promise.allSettled([...this.#attempts].map((attempt) => attempt.stop(DEFAULT_GRACE)))
    this.registration.close()
    await (client ?? super.close())
    await this.#server?.close()
    await this.#watchdog?.close()
  }

  #checkOpen(what: string): void {
    if (this.#closingContext !== undefined)
      throw new ZStateError(ErrorCode.CLOSED, `${what}: ${this.#cause?.message ?? 'the context is closed'}`)
  }
}
