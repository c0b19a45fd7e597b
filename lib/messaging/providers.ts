// The providing side of services: handlers registered at the server (again after every reconnection),
// calls pushed to them, results posted back.
import { EventEmitter } from 'node:events'
import { ErrorCode, ZStateError, invalidArgument, isZStateError } from '../errors.ts'
import { deferred, type Deferred } from '../deferred.ts'
import { checkName } from '../protocol/names.ts'
import { isList } from '../protocol/frames.ts'
import { Op, Status } from '../protocol/ops.ts'
import { adoptDecodedList, describe, shown } from '../protocol/values.ts'
import type { Link } from '../link/link.ts'
import { encodable } from './calls.ts'
import type { MessagingHost } from './host.ts'
import { cutFailure, remoteFailure } from './remote.ts'
import { readPush } from './replies.ts'
import type { Handler, ProvideOptions, ProviderHandle } from './types.ts'
import { WAIT_OPTIONS, bounded, checkWaitOptions } from '../wait.ts'

const DEFAULT_CONCURRENCY = 64
const PROVIDE_OPTIONS = [...WAIT_OPTIONS, 'concurrency']

interface Registration {
  readonly link: Link
  readonly done: Promise<unknown>
}

export class Providers {
  readonly #host: MessagingHost
  // Providers that are registered, or registered again after a reconnection.
  readonly #open = new Set<LocalProvider>()
  // Every provider that may still get pushes, by its key.
  readonly #byKey = new Map<number, LocalProvider>()
  #nextKey = 1
  #link: Link | undefined
  #closed = false

  constructor(host: MessagingHost) {
    this.#host = host
  }

  async provide(name: string, handlers: object, options: ProvideOptions = {}): Promise<ProviderHandle> {
    checkName(name, 'provide: name')
    const methods = methodsOf(handlers)
    checkWaitOptions(options, 'provide', PROVIDE_OPTIONS)
    const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw invalidArgument(`provide: concurrency must be an integer ≥ 1, got ${shown(concurrency)}`)
    if (this.#closed) throw new ZStateError(ErrorCode.CLOSED, 'the client is closed')
    const provider = new LocalProvider(this, this.#nextKey++, name, handlers, methods, concurrency)
    this.#open.add(provider)
    this.#byKey.set(provider.key, provider)
    try {
      const what = `provide('${name}')`
      await bounded(this.#registerSomewhere(provider), options, what, undefined, this.#host.refusal)
      return provider
    } catch (error) {
      // Withdrawn, also from a server that registers it after the timeout or the abort.
      void provider.close()
      throw error
    }
  }

  async #registerSomewhere(provider: LocalProvider): Promise<void> {
    for (;;) {
      const link = await this.#host.nextLink()
      // Given up on (timeout, abort) while there was no server: a later one never hears of it.
      if (!this.#open.has(provider)) return
      try {
        await this.#register(provider, link)
        return
      } catch (error) {
        // The server was lost meanwhile: register with the next one.
        if (!isDisconnected(error) || !this.#open.has(provider)) throw error
      }
    }
  }

  // A new link (first join or reconnection): the new session knows no providers yet.
  attach(link: Link): void {
    this.#link = link
    for (const provider of this.#open) void this.#reregister(provider, link)
  }

  onPush(link: Link, raw: readonly unknown[]): void {
    if (link !== this.#link) return
    const push = readPush(raw)
    if (push?.kind === 'call') {
      const provider = this.#byKey.get(push.key)
      if (provider !== undefined) return provider.run(link, push.callId, push.method, push.args)
      link.channel.post(Op.RESULT, [
        push.callId,
        Status.ERROR,
        ErrorCode.PROVIDER_LOST,
        'the provider was withdrawn',
      ])
    } else if (push?.kind === 'dropped') {
      const provider = this.#byKey.get(push.key)
      if (provider === undefined || !this.#open.has(provider)) return
      provider.registration = undefined
      void this.#reregister(provider, link)
    }
  }

  // The client is closing: nothing registers again; the server forgets the session's providers.
  close(): void {
    this.#closed = true
    this.#open.clear()
  }

  release(provider: LocalProvider): void {
    this.#open.delete(provider)
  }

  forget(provider: LocalProvider): void {
    this.#byKey.delete(provider.key)
  }

  #register(provider: LocalProvider, link: Link): Promise<unknown> {
    if (provider.registration?.link === link) return provider.registration.done
    const done = link.channel.request(Op.PROVIDE, [
      provider.name,
      provider.methods,
      provider.concurrency,
      provider.key,
    ])
    provider.registration = { link, done }
    return done
  }

  async #reregister(provider: LocalProvider, link: Link): Promise<void> {
    try {
      await this.#register(provider, link)
    } catch (error) {
      // A lost server is retried by the next attach(); anything else would be a bug worth hearing about.
      if (!isZStateError(error) || (error.code !== ErrorCode.DISCONNECTED && error.code !== ErrorCode.CLOSED))
        process.emitWarning(`zstate: could not provide '${provider.name}' again: ${String(error)}`)
    }
  }
}

class LocalProvider implements ProviderHandle {
  readonly key: number
  readonly name: string
  readonly methods: readonly string[]
  readonly concurrency: number
  registration: Registration | undefined
  readonly #owner: Providers
  readonly #target: object
  readonly #handlers: Map<string, Handler>
  #active = 0
  #idle: Deferred<void> | undefined
  #closing: Promise<void> | undefined

  constructor(
    owner: Providers,
    key: number,
    name: string,
    target: object,
    handlers: Map<string, Handler>,
    concurrency: number,
  ) {
    this.#owner = owner
    this.key = key
    this.name = name
    this.#target = target
    this.#handlers = handlers
    this.methods = Object.freeze([...handlers.keys()])
    this.concurrency = concurrency
  }

  // Runs one pushed call and posts its RESULT on the link it came from.
  run(link: Link, callId: number, method: string, args: unknown): void {
    const handler = this.#handlers.get(method)
    if (handler === undefined) {
      const message = `service '${this.name}' has no method '${method}' here`
      return link.channel.post(Op.RESULT, [callId, Status.ERROR, ErrorCode.INVALID_ARGUMENT, message])
    }
    let input: readonly unknown[]
    try {
      const decoded = adoptDecodedList(args)
      if (!isList(decoded)) throw new ZStateError(ErrorCode.PROTOCOL, 'call arguments must be an array')
      input = decoded
    } catch (error) {
      const message = `${this.name}.${method}: unreadable arguments: ${(error as Error).message}`
      return link.channel.post(Op.RESULT, [callId, Status.ERROR, ErrorCode.PROTOCOL, message])
    }
    this.#active++
    let result: unknown
    try {
      result = Reflect.apply(handler, this.#target, input)
    } catch (error) {
      return this.#finish(link, callId, method, remoteFailure(error))
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.#finish(link, callId, method, this.#success(method, value)),
        (error: unknown) => this.#finish(link, callId, method, remoteFailure(error)),
      )
    } else this.#finish(link, callId, method, this.#success(method, result))
  }

  #success(method: string, value: unknown): unknown[] {
    if (value === undefined) return [Status.OK]
    try {
      return [Status.OK, encodable(value, `result of ${this.name}.${method}`, false)]
    } catch (error) {
      return [Status.ERROR, ErrorCode.UNENCODABLE, (error as Error).message]
    }
  }

  // An outcome too large to send: a handler's error goes again with its message and stack cut and
  // without the value or cause it carried, so that its caller still learns that it threw, and what;
  // a result (or an error still too large) goes as ERR_TOO_LARGE.
  #finish(link: Link, callId: number, method: string, outcome: unknown[]): void {
    this.#active--
    const tooLarge = (error: ZStateError): void =>
      link.channel.post(Op.RESULT, [
        callId,
        Status.ERROR,
        ErrorCode.TOO_LARGE,
        `result of ${this.name}.${method}: ${error.message}`,
      ])
    link.channel.post(Op.RESULT, [callId, ...outcome], (error) =>
      outcome[0] === Status.ERROR
        ? link.channel.post(Op.RESULT, [callId, ...cutFailure(outcome)], tooLarge)
        : tooLarge(error),
    )
    if (this.#active === 0) this.#idle?.resolve()
  }

  close(): Promise<void> {
    this.#closing ??= this.#withdraw()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #withdraw(): Promise<void> {
    this.#owner.release(this)
    const registration = this.registration
    if (registration !== undefined) {
      // Calls pushed before the server took WITHDRAW arrive before its reply, and still run.
      await registration.done.catch(() => {})
      await registration.link.channel.request(Op.WITHDRAW, [this.key]).catch(() => {})
    }
    this.#owner.forget(this)
    if (this.#active > 0) {
      this.#idle = deferred<void>()
      await this.#idle.promise
    }
  }
}

// Prototypes whose methods are never a service's: a handler object's own classes end where one of
// these begins (a class extending EventEmitter offers its own methods, not emit or on).
const BUILT_IN_PROTOTYPES = new Set<object | null>([
  null,
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  WeakMap.prototype,
  WeakSet.prototype,
  Promise.prototype,
  Date.prototype,
  RegExp.prototype,
  Error.prototype,
  Function.prototype,
  ArrayBuffer.prototype,
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  EventEmitter.prototype,
])

// The handlers' methods: own functions, then those of its classes (a class instance works too).
function methodsOf(handlers: unknown): Map<string, Handler> {
  if (typeof handlers !== 'object' || handlers === null || Array.isArray(handlers))
    throw invalidArgument(`provide: handlers must be an object of functions, got ${describe(handlers)}`)
  const methods = new Map<string, Handler>()
  for (let o: object | null = handlers; !BUILT_IN_PROTOTYPES.has(o); o = Reflect.getPrototypeOf(o!)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      // The descriptor, not o[key]: a getter is not a method, and is not run. A class's constructor
      // is none of its methods; an own function named so is one.
      const value: unknown = Object.getOwnPropertyDescriptor(o, key)?.value
      if ((key === 'constructor' && o !== handlers) || methods.has(key) || typeof value !== 'function')
        continue
      checkName(key, 'provide: method name')
      methods.set(key, value as Handler)
    }
  }
  if (methods.size === 0) throw invalidArgument('provide: handlers has no methods')
  return methods
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function isDisconnected(error: unknown): boolean {
  return isZStateError(error) && error.code === ErrorCode.DISCONNECTED
}
