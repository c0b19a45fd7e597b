// The public shape of services and topics (docs/messaging.md); every Client has these methods.

/** One method of a service provider: takes the call's arguments, returns (or resolves with) its result. */
// Declared as a method, whose parameters are compared both ways: a handler that annotates its own
// (`(a: number, b: number) => a + b`) fits, where a function type (strictFunctionTypes) would refuse
// it; parameters left unannotated are `unknown`, never `any`.
export type Handler = { handler(...args: unknown[]): unknown }['handler']
/** A service provider's methods by name: what `provide()` takes when no `Api` type is given. */
export type Handlers = Record<string, Handler>

/**
 * `T` exactly as the caller wrote it: a type parameter used only through this is never inferred
 * from arguments. (`NoInfer<T>` means the same, but two copies of a signature using it are not
 * assignable to each other, so the published Client's own declarations failed to type-check.)
 */
type Explicit<T> = [T][T extends unknown ? 0 : never]

/**
 * What `provide()` takes for an `Api`: the same methods, each free to be sync or async. Without an
 * `Api` (a record of any names, Handlers), any handlers as they are.
 */
export type Implementation<Api> = string extends keyof Api
  ? Api
  : {
      [K in keyof Api]: Api[K] extends (...args: infer A) => infer R
        ? (...args: A) => R | Promise<Awaited<R>>
        : Api[K]
    }

/** Names a service proxy keeps for JavaScript itself (awaiting, JSON, conversions): not methods. */
type NotMethod = 'then' | 'toJSON' | 'valueOf' | 'constructor' | 'toString' | 'toLocaleString'

/** What `service<Api>()` returns: every method of `Api`, returning a Promise. Not thenable. */
export type ServiceProxy<Api> = {
  readonly [
    K in keyof Api as K extends NotMethod | symbol ? never : Api[K] extends Handler ? K : never
  ]: Api[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never
}

/** What a call that makes a request takes: `publish`, `services`, `provide` (and more of its own). */
export interface RequestOptions {
  /** ms until it rejects with TimeoutError (ERR_TIMEOUT); default: the client's requestTimeout. */
  timeout?: number | undefined
  /** Aborting it rejects it with `signal.reason`, unchanged. */
  signal?: AbortSignal | undefined
}

/** Options of `provide()`. */
export interface ProvideOptions extends RequestOptions {
  /** Calls this provider runs at once; the server queues the rest; default 64. */
  concurrency?: number | undefined
}

/** A registered provider, as `provide()` resolves with it. `await using` withdraws it. */
export interface ProviderHandle extends AsyncDisposable {
  /** The service name it provides. */
  readonly name: string
  /** The methods it registered. */
  readonly methods: readonly string[]
  /** Withdraws the provider (no new calls reach it); resolves once its calls in flight have finished. */
  close(): Promise<void>
  /** Calls `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Options of `call()` and of the methods of a `service()` proxy. */
export interface CallOptions {
  /** ms until the call rejects with TimeoutError (ERR_TIMEOUT), queueing included; default 30 000. */
  timeout?: number | undefined
  /** Aborting it rejects the call with `signal.reason`, unchanged. */
  signal?: AbortSignal | undefined
  /**
   * The id of one provider (from `services({ detail: true })`) that must take the call: it waits
   * for that provider's free slot. Gone, or never there: ERR_NO_PROVIDER.
   */
  provider?: number | undefined
}

/** One provider of a service, as `services({ detail: true })` lists it. */
export interface ProviderInfo {
  /** The server's id for it, for `call(…, { provider: id })`. */
  id: number
  /** The name of the client that provides it (its `connect` name or child name). */
  name: string
  /** That client's process id. */
  pid: number
  /** Calls it runs at once. */
  concurrency: number
  /** Calls it is running now. */
  inFlight: number
}

/** One service with every provider, as `services({ detail: true })` lists it. */
export interface ServiceDetail {
  name: string
  providers: ProviderInfo[]
  methods: string[]
}

/** One service, as `services()` lists it. */
export interface ServiceInfo {
  /** The service name. */
  name: string
  /** Live providers of it. */
  providers: number
  /** The methods its providers registered. */
  methods: string[]
}

/** Options of `waitForService()`. */
export interface WaitForServiceOptions {
  /** Resolve once at least this many providers are live; default 1. */
  providers?: number | undefined
  /** ms to wait before TimeoutError (ERR_TIMEOUT); default: no limit. */
  timeout?: number | undefined
  /** Aborting it rejects the wait with `signal.reason`, unchanged. */
  signal?: AbortSignal | undefined
}

/** One message received by a subscription. */
export interface TopicMessage<T = unknown> {
  /** The topic it was published on (it starts with the subscription's prefix). */
  topic: string
  /** The message, decoded (same value model as the state). */
  message: T
}

/** Options of `subscribe()`. */
export interface SubscribeOptions {
  /** Aborting it ends the subscription; the iterator then throws `signal.reason`. */
  signal?: AbortSignal | undefined
}

/**
 * The messages published under a prefix, as an async iterator: at most once, in order per
 * publisher, from `ready` on. `break` or `close()` unsubscribes.
 */
export interface Subscription<T = unknown> extends AsyncIterableIterator<TopicMessage<T>>, AsyncDisposable {
  /** The topic prefix subscribed to ('' for every topic). */
  readonly prefix: string
  /** Resolves once the subscription provably reaches the server: messages published after that arrive. */
  readonly ready: Promise<void>
  /** Messages dropped here because 10 000 were already waiting to be consumed. */
  readonly dropped: number
  /** Unsubscribes; messages not consumed yet are discarded. Idempotent. */
  close(): void
  /** Calls `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Services (request/reply to named providers) and topics (publish/subscribe); every Client has these. */
export interface Messaging {
  /**
   * Registers `handlers` as a provider of the service `name`; resolves once the server has
   * registered it. With an `Api` type argument the handlers are checked against it; without,
   * any object of functions. Handler errors reach callers as RemoteError.
   */
  provide<Api extends object = Handlers>(
    name: string,
    handlers: Implementation<Explicit<Api>>,
    options?: ProvideOptions,
  ): Promise<ProviderHandle>
  /**
   * Calls `method` of the service `name` on a live provider (round-robin, or the one `provider`
   * names) with `args`; resolves with its result. No provider: ERR_NO_PROVIDER at once; provider died mid-call:
   * ERR_PROVIDER_LOST; unknown method: ERR_INVALID_ARGUMENT; handler threw: RemoteError.
   */
  call<R = unknown>(
    name: string,
    method: string,
    args?: readonly unknown[],
    options?: CallOptions,
  ): Promise<R>
  /** A typed proxy over `call()`: `client.service<MathApi>('math').add(1, 2)`. Not thenable. */
  service<Api extends object>(name: string, options?: CallOptions): ServiceProxy<Api>
  /** Every service the server knows, with its live providers. */
  services(options?: RequestOptions & { detail?: false | undefined }): Promise<ServiceInfo[]>
  /** Every service with each of its providers (id, client name, pid, concurrency, calls in flight). */
  services(options: RequestOptions & { detail: true }): Promise<ServiceDetail[]>
  /** Either of the above, as `detail` says. */
  services(
    options: RequestOptions & { detail?: boolean | undefined },
  ): Promise<ServiceInfo[] | ServiceDetail[]>
  /** Resolves once the service `name` has at least `providers` (default 1) live providers. */
  waitForService(name: string, options?: WaitForServiceOptions): Promise<void>
  /** Publishes `message` on `topic`; resolves when the server has accepted it. */
  publish(topic: string, message: unknown, options?: RequestOptions): Promise<void>
  /** Subscribes to every topic starting with `prefix`; await `ready` before relying on delivery. */
  subscribe<T = unknown>(prefix: string, options?: SubscribeOptions): Subscription<T>
}
