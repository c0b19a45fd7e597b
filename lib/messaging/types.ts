// The public shape of services and topics (API.md "Messaging"); every Client has these methods.

export type Handler = (...args: any[]) => unknown
export type Handlers = Record<string, Handler>

// What provide() takes for an Api: the same methods, each free to be sync or async.
export type Implementation<Api> = {
  [K in keyof Api]: Api[K] extends (...args: infer A) => infer R
    ? (...args: A) => R | Promise<Awaited<R>>
    : Api[K]
}

// service<Api>(): every method of Api, returning a Promise. `then` is left out: the proxy is not thenable.
export type ServiceProxy<Api> = {
  readonly [
    K in keyof Api as K extends 'then' | symbol ? never : Api[K] extends Handler ? K : never
  ]: Api[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never
}

export interface ProvideOptions {
  // Calls this provider runs at once; the server queues the rest. Default 64.
  concurrency?: number | undefined
}

export interface ProviderHandle extends AsyncDisposable {
  readonly name: string
  readonly methods: readonly string[]
  // Withdraws the provider (no new calls reach it) and resolves once its calls in flight have finished.
  close(): Promise<void>
}

export interface CallOptions {
  timeout?: number | undefined // default 30_000 → ERR_TIMEOUT
  signal?: AbortSignal | undefined
}

export interface ServiceInfo {
  name: string
  providers: number
  methods: string[]
}

export interface WaitForServiceOptions {
  providers?: number | undefined // default 1
  timeout?: number | undefined
  signal?: AbortSignal | undefined
}

export interface TopicMessage<T = unknown> {
  topic: string
  message: T
}

export interface SubscribeOptions {
  signal?: AbortSignal | undefined
}

// An async iterable of the messages published under a prefix; `break` (or close()) unsubscribes.
export interface Subscription<T = unknown> extends AsyncIterableIterator<TopicMessage<T>> {
  readonly prefix: string
  // Resolves once the subscription provably reaches the server: messages published after that arrive.
  readonly ready: Promise<void>
  // Messages dropped here because more than 10,000 were waiting to be consumed.
  readonly dropped: number
  close(): void
}

export interface Messaging {
  provide<Api extends object = Handlers>(
    name: string,
    handlers: Implementation<NoInfer<Api>>,
    options?: ProvideOptions,
  ): Promise<ProviderHandle>
  call<R = unknown>(
    name: string,
    method: string,
    args?: readonly unknown[],
    options?: CallOptions,
  ): Promise<R>
  service<Api extends object>(name: string, options?: CallOptions): ServiceProxy<Api>
  services(): Promise<ServiceInfo[]>
  waitForService(name: string, options?: WaitForServiceOptions): Promise<void>
  publish(topic: string, message: unknown): Promise<void>
  subscribe<T = unknown>(prefix: string, options?: SubscribeOptions): Subscription<T>
}
