// The server as a broker (docs/architecture.md "The broker"): providers register services over their session, calls
// are routed round-robin within each provider's concurrency, the rest wait in a bounded queue, and a
// provider that goes silent is dropped with its calls in flight failing ERR_PROVIDER_LOST.
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { encode } from '../protocol/codec.ts'
import { isName } from '../protocol/names.ts'
import { adoptDecodedList, shown } from '../protocol/values.ts'
import { Op, Push, Status } from '../protocol/ops.ts'
import { MAX_TRACKED_TOPICS, type ServiceStats } from '../protocol/server-stats.ts'
import { errorReplyOf, okReply, okReplyEncoded, push, pushEncoded } from './replies.ts'
import { Service, handedBytes, queuedBytes, type Call, type HeldBytes, type Provider } from './service.ts'
import { ServiceWaits } from './service-waits.ts'
import { Slices } from './slices.ts'
import { ThrottledListing } from './throttled-listing.ts'
import { ownString } from './own-string.ts'
import { runSerialBase } from './run-serial.ts'
import { isGatewayLink, type Session } from './sessions.ts'
import type { Offer } from './etcd/federation.ts'

export interface BrokerOptions {
  heartbeatMs: number
  maxQueuedCalls: number
  // A service belongs to the client key of its first provider while any of its providers lives:
  // providers under other keys are refused (a curve server's default, docs/security.md).
  ownedServices: boolean
  // Queues a reply or a push for a session, sent with the rest of its turn's batch.
  send: (session: Session, message: Buffer) => void
  // Told whenever a provider comes or goes (an etcd gateway's federation follows what is offered).
  changed?: () => void
}

// A provider whose session is silent for this many heartbeat periods is dropped (clients ping every period).
export const PROVIDER_SILENCE_BEATS = 4
const MAX_CONCURRENCY = 1_000_000
// What the registry may hold (docs/messaging.md, Limits): a session cannot fill the server's memory
// with providers, nor make every SERVICES and STATS reply huge to build, for everyone. Sessions cost
// nothing to open, hence the bounds on the whole registry too.
export const MAX_SESSION_PROVIDERS = 1_024
export const MAX_PROVIDER_METHOD_BYTES = 64 * 1024
export const MAX_PROVIDERS = 16_384
// The names a SERVICES or STATS reply lists, in all: each provider counts its service's, its
// methods' and its client's. With 8 MiB of method names and 16 MiB of service names a full registry
// made every SERVICES reply about 25 MB, a second of the loop to build (outside audit).
export const MAX_REGISTRY_BYTES = 1024 * 1024
// What every call held holds, in all: those waiting in a queue (their arguments too), and those handed
// to a provider until its result (a provider may take a million, and never answer).
export const MAX_HELD_CALL_BYTES = 128 * 1024 * 1024
// Services gone whose counters are kept: as many as the topics tracked.
const MAX_GONE_SERVICES = MAX_TRACKED_TOPICS
// About 10 ms of the loop per slice.
const FAILED_CALLS_PER_SLICE = 4096

// Why a queued call left its queue unserved.
type Failure = 'timed out' | 'orphaned'

// What one session has at the broker, so it can be cleaned up when the session ends.
interface Party {
  // Its providers by their key.
  readonly providers: Map<number, Provider>
  // Its calls not answered yet, by request id.
  readonly calls: Map<number, Call>
}

export class Broker {
  readonly #options: BrokerOptions
  readonly #services = new Map<string, Service>()
  // Services whose last provider went, oldest first, taken up again if they come back: their counters
  // go on (calls still to be failed count on them meanwhile).
  readonly #gone = new Map<string, Service>()
  readonly #providers = new Map<number, Provider>()
  readonly #calls = new Map<number, Call>()
  readonly #parties = new Map<Session, Party>()
  readonly #waits = new ServiceWaits()
  // Queued calls that left their queue unserved, failed a slice at a time.
  readonly #failing = new Slices<[Call, Failure]>(FAILED_CALLS_PER_SLICE, (failed) => this.#fail(failed))
  // A provider id from before a restart names no provider after it: a call pinned to one fails,
  // rather than reach whichever provider got that number.
  #nextId = runSerialBase()
  // The registry bytes of every provider registered (MAX_REGISTRY_BYTES).
  #registryBytes = 0
  // SERVICES replies: without detail it changes only when a provider comes or goes; with detail,
  // with every call too (each provider's inFlight).
  readonly #listing = new ThrottledListing(() => this.#listed().map(describeService))
  readonly #detailListing = new ThrottledListing(() =>
    this.#listed().map((service) => [...describeService(service), service.providers.map(describeProvider)]),
  )
  readonly #heldBytes: HeldBytes = { total: 0 }

  constructor(options: BrokerOptions) {
    this.#options = options
  }

  // Handles one messaging request; undefined: answered later (CALL, AWAIT_SERVICE) or never (RESULT, CANCEL).
  dispatch(session: Session, id: number, op: unknown, args: unknown[]): Buffer | undefined {
    switch (op) {
      case Op.PROVIDE:
        return this.#provide(session, id, args)
      case Op.WITHDRAW: {
        if (args.length !== 1 || typeof args[0] !== 'number')
          throw new ZStateError(ErrorCode.PROTOCOL, 'withdraw takes [key]')
        const provider = this.#parties.get(session)?.providers.get(args[0])
        if (provider !== undefined) this.#withdraw(provider)
        return okReply(id, [])
      }
      case Op.CALL:
        return this.#call(session, id, args)
      // Sent with request id 0, so a malformed one is refused without a word; with another id, with its error.
      case Op.RESULT:
        if (args.length < 2 || typeof args[0] !== 'number')
          throw new ZStateError(ErrorCode.PROTOCOL, 'result takes [callId, status, ...payload]')
        this.#result(session, args)
        return undefined
      case Op.CANCEL:
        if (args.length !== 1 || typeof args[0] !== 'number')
          throw new ZStateError(ErrorCode.PROTOCOL, 'cancel takes [requestId]')
        this.#cancel(session, args[0])
        return undefined
      case Op.SERVICES: {
        // [detail?]: with true, every provider of each service as well.
        const [detail = false] = args
        if (args.length > 1 || typeof detail !== 'boolean')
          throw new ZStateError(ErrorCode.PROTOCOL, 'services takes [] or [detail]')
        return okReplyEncoded(id, detail ? this.#detailListing.latest : this.#listing.encoded)
      }
      case Op.AWAIT_SERVICE:
        return this.#awaitService(session, id, args)
    }
    throw new ZStateError(ErrorCode.PROTOCOL, `unknown op code ${String(op)}`)
  }

  // Once per heartbeat: drops silent providers and expires calls that waited in a queue past their timeout.
  // The ROUTER reads its peers fair-queued, so a live provider's messages are seen even under a flood.
  // Silence counts from `silentFrom`: the end of the last stretch this server's loop was blocked,
  // when the silence it measured was its own.
  tick(now: number, silentFrom: number): void {
    const cutoff = now - this.#options.heartbeatMs * PROVIDER_SILENCE_BEATS
    if (silentFrom < cutoff) {
      const silent = [...this.#providers.values()].filter((provider) => provider.session.lastSeen < cutoff)
      this.#loseAll(silent, (provider) => {
        const silence = now - provider.session.lastSeen
        this.#options.send(
          provider.session,
          push(Push.DROPPED, [provider.key, `dropped after ${silence} ms without a heartbeat`]),
        )
        return `no heartbeat from its process for ${silence} ms`
      })
    }
    // Calls carry their own timeouts, so the queue is not ordered by deadline.
    for (const service of this.#services.values()) {
      this.#failing.add(
        service.dequeueWhere((queued) => queued.deadline <= now).map((call) => [call, 'timed out']),
      )
      this.#tidy(service)
    }
  }

  // What this server's own providers offer, by service: methods, and concurrency in all (proxies of
  // peer gateways left out).
  offers(): Map<string, Offer> {
    const offers = new Map<string, Offer>()
    for (const service of this.#services.values()) {
      const own = service.providers.filter((provider) => !provider.proxy)
      if (own.length === 0) continue
      const methods = new Set<string>()
      for (const provider of own) for (const method of provider.methods) methods.add(method)
      const concurrency = own.reduce((sum, provider) => sum + provider.concurrency, 0)
      offers.set(service.name, {
        methods: [...methods].sort(),
        concurrency: Math.min(concurrency, MAX_CONCURRENCY),
      })
    }
    return offers
  }

  // Every service with a provider, by name, with its counters and the calls it holds now.
  stats(): ServiceStats[] {
    const inFlight = new Map<Service, number>()
    for (const call of this.#calls.values()) inFlight.set(call.service, (inFlight.get(call.service) ?? 0) + 1)
    return this.#listed().map((service) => ({
      name: service.name,
      providers: service.providers.length,
      methods: service.methods(),
      calls: service.calls,
      failed: service.failed,
      queued: service.queue.length,
      inFlight: inFlight.get(service) ?? 0,
    }))
  }

  // Services with a provider, sorted by name (SERVICES and STATS).
  #listed(): Service[] {
    return [...this.#services.values()]
      .filter((service) => service.providers.length > 0)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  // The session ended (BYE, expiry, or it stopped reading): its providers are lost, its calls and waits dropped.
  dropSession(session: Session, reason: string): void {
    this.#waits.dropSession(session)
    const party = this.#parties.get(session)
    if (party === undefined) return
    this.#parties.delete(session)
    // Its queued calls leave each service's queue in one pass (one at a time, a flood of them took
    // the loop seconds).
    const queued = new Map<Service, Set<Call>>()
    for (const call of party.calls.values()) {
      call.caller = undefined
      call.service.failed++ // no caller is left to get a result
      if (call.provider !== undefined) continue
      let calls = queued.get(call.service)
      if (calls === undefined) queued.set(call.service, (calls = new Set()))
      calls.add(call)
    }
    for (const [service, calls] of queued) {
      service.dequeueWhere((call) => calls.has(call))
      this.#tidy(service)
    }
    this.#loseAll([...party.providers.values()], () => reason)
  }

  #party(session: Session): Party {
    let party = this.#parties.get(session)
    if (party === undefined) {
      party = { providers: new Map(), calls: new Map() }
      this.#parties.set(session, party)
    }
    return party
  }

  #provide(session: Session, id: number, args: unknown[]): Buffer {
    const [name, methods, concurrency, key] = args
    if (
      args.length !== 4 ||
      !isName(name) ||
      !Array.isArray(methods) ||
      !methods.every(isName) ||
      typeof key !== 'number'
    )
      throw new ZStateError(ErrorCode.PROTOCOL, 'provide takes [service, methods, concurrency, key]')
    if (typeof concurrency !== 'number' || !Number.isSafeInteger(concurrency) || concurrency < 1)
      throw invalidArgument(`provide: concurrency must be an integer ≥ 1, got ${shown(concurrency)}`)
    const party = this.#party(session)
    if (party.providers.has(key))
      throw new ZStateError(ErrorCode.PROTOCOL, `provider key ${key} is already in use by this session`)
    const methodBytes = methods.reduce((sum: number, method: string) => sum + Buffer.byteLength(method), 0)
    if (methodBytes > MAX_PROVIDER_METHOD_BYTES)
      throw invalidArgument(
        `provide: the method names of a provider may hold ${MAX_PROVIDER_METHOD_BYTES} bytes at most, got ${methodBytes}`,
      )
    if (party.providers.size >= MAX_SESSION_PROVIDERS)
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `provide: a client may have ${MAX_SESSION_PROVIDERS} providers at most`,
      )
    const registryBytes = methodBytes + Buffer.byteLength(name) + Buffer.byteLength(session.name)
    if (this.#providers.size >= MAX_PROVIDERS || this.#registryBytes + registryBytes > MAX_REGISTRY_BYTES)
      throw new ZStateError(
        ErrorCode.OVERFLOW,
        `provide: the server holds as many providers as it takes (${MAX_PROVIDERS}, or ${MAX_REGISTRY_BYTES} bytes of service, method and client names)`,
      )
    let service = this.#services.get(name)
    const owner = service?.providers[0]?.session.clientKey
    if (
      this.#options.ownedServices &&
      service !== undefined &&
      service.providers.length > 0 &&
      owner !== session.clientKey
    )
      throw new ZStateError(
        ErrorCode.UNAUTHORIZED,
        `provide: service '${name}' is provided under another client key, which owns it while any of its providers lives`,
      )
    if (service === undefined) {
      // One that comes back is the one that went (idle, its counters kept).
      service = this.#gone.get(name) ?? new Service(ownString(name), this.#heldBytes)
      this.#gone.delete(service.name)
      this.#services.set(service.name, service)
    }
    const provider: Provider = {
      id: this.#nextId++,
      key,
      session,
      service,
      methods: new Set(methods.map(ownString)),
      registryBytes,
      concurrency: Math.min(concurrency, MAX_CONCURRENCY),
      inFlight: new Map(),
      withdrawn: false,
      proxy: isGatewayLink(session),
    }
    this.#providers.set(provider.id, provider)
    this.#registryBytes += registryBytes
    party.providers.set(key, provider)
    service.add(provider)
    this.#feed(provider)
    this.#notifyWaits(service)
    this.#changed()
    return okReply(id, [])
  }

  #call(session: Session, id: number, args: unknown[]): Buffer | undefined {
    const [name, method, callArgs, timeout, providerId] = args
    if (
      (args.length !== 4 && args.length !== 5) ||
      !isName(name) ||
      !isName(method) ||
      !Array.isArray(callArgs) ||
      typeof timeout !== 'number' ||
      !(timeout >= 0) ||
      (args.length === 5 && typeof providerId !== 'number')
    )
      throw new ZStateError(ErrorCode.PROTOCOL, 'call takes [service, method, args, timeoutMs, provider?]')
    // Arguments are values as a SET's are: the provider gets what the caller sent, or nothing.
    adoptDecodedList(callArgs)
    const service = this.#services.get(name)
    const local = isGatewayLink(session)
    if (service === undefined || !service.providers.some((p) => !(local && p.proxy)))
      throw new ZStateError(ErrorCode.NO_PROVIDER, `no provider for service '${name}'`)
    const target = providerId === undefined ? undefined : service.providers.find((p) => p.id === providerId)
    if (providerId !== undefined && target === undefined)
      throw new ZStateError(
        ErrorCode.NO_PROVIDER,
        `service '${name}' has no provider ${String(providerId)} (services({ detail: true }) lists them)`,
      )
    if (target === undefined ? !service.offers(method, local) : !target.methods.has(method)) {
      const offered = listed(target === undefined ? service.methods() : [...target.methods].sort())
      throw invalidArgument(
        `${target === undefined ? `service '${name}'` : `provider ${target.id} of '${name}'`} has no method '${method}' (it offers: ${offered})`,
      )
    }
    service.calls++
    const party = this.#party(session)
    const provider =
      target === undefined
        ? service.pick(method, local)
        : target.inFlight.size < target.concurrency
          ? target
          : undefined
    const call: Call = {
      id: this.#nextId++,
      caller: session,
      requestId: id,
      service,
      method: ownString(method),
      args: callArgs,
      deadline: Date.now() + timeout,
      provider: undefined,
      target,
      local,
    }
    if (provider !== undefined) {
      this.#checkBytes(service, handedBytes(call))
      this.#assign(call, provider)
    } else {
      // What a queued call holds is counted: calls to a provider that never takes them could
      // otherwise hold any amount of the server's memory.
      call.args = encode(callArgs)
      this.#checkRoom(service, queuedBytes(call))
      service.enqueue(call)
    }
    // A request id used again replaces its call, as a CANCEL would (the old one would never be
    // answered, and would outlive the session unseen).
    if (party.calls.has(id)) this.#cancel(session, id)
    party.calls.set(id, call)
    return undefined
  }

  #assign(call: Call, provider: Provider): void {
    call.provider = provider
    provider.inFlight.set(call.id, call)
    this.#calls.set(call.id, call)
    this.#heldBytes.total += handedBytes(call)
    const { args } = call
    const message =
      args instanceof Buffer
        ? pushEncoded(Push.CALL, [call.id, provider.key, call.method], args)
        : push(Push.CALL, [call.id, provider.key, call.method, args])
    this.#options.send(provider.session, message)
    call.args = undefined
  }

  // A call may wait in the service's queue: within maxQueuedCalls, and within the bytes every call
  // may hold.
  #checkRoom(service: Service, bytes: number): void {
    if (service.queue.length >= this.#options.maxQueuedCalls)
      refuse(service, `already ${service.queue.length} calls waiting for a free provider (maxQueuedCalls)`)
    this.#checkBytes(service, bytes)
  }

  // The calls held, queued or handed to a provider, stay within MAX_HELD_CALL_BYTES.
  #checkBytes(service: Service, bytes: number): void {
    if (this.#heldBytes.total + bytes > MAX_HELD_CALL_BYTES)
      refuse(
        service,
        `the calls waiting for a provider or for its result hold ${MAX_HELD_CALL_BYTES} bytes already`,
      )
  }

  // Gives a provider queued calls until it is at its concurrency.
  #feed(provider: Provider): void {
    const { service } = provider
    while (!provider.withdrawn && provider.inFlight.size < provider.concurrency && service.queue.length > 0) {
      const call = service.takeFor(provider)
      if (call === undefined) return
      this.#assign(call, provider)
    }
  }

  #result(session: Session, args: unknown[]): void {
    const call = this.#calls.get(args[0] as number)
    const provider = call?.provider
    if (call === undefined || provider?.session !== session) return
    const status = args[1]
    // ERR_DISCONNECTED is the server's own "not applied, no session" (callers send such a request
    // again): a provider cannot claim it.
    const valid =
      (status === Status.OK
        ? args.length <= 3
        : status === Status.ERROR &&
          typeof args[2] === 'string' &&
          typeof args[3] === 'string' &&
          args[2] !== ErrorCode.DISCONNECTED) && inValueModel(args)
    // A call its caller gave up on was counted as failed then.
    if ((status !== Status.OK || !valid) && call.caller !== undefined) call.service.failed++
    this.#settle(call)
    if (call.caller !== undefined) {
      const reply = valid
        ? forwarded(call.requestId, args.slice(1))
        : errorReplyOf(call.requestId, ErrorCode.PROTOCOL, 'the provider sent a malformed result')
      this.#options.send(call.caller, reply)
    }
    if (provider.withdrawn) this.#retire(provider)
    else this.#feed(provider)
  }

  #cancel(session: Session, requestId: number): void {
    this.#waits.cancel(session, requestId)
    const party = this.#parties.get(session)
    const call = party?.calls.get(requestId)
    if (call === undefined) return
    party!.calls.delete(requestId)
    call.caller = undefined
    // Given up on by its caller (its timeout, its signal): it ends without a result.
    call.service.failed++
    if (call.provider === undefined && call.service.unqueue(call)) this.#tidy(call.service)
  }

  #awaitService(session: Session, id: number, args: unknown[]): Buffer | undefined {
    const [name, providers] = args
    if (
      args.length !== 2 ||
      !isName(name) ||
      typeof providers !== 'number' ||
      !Number.isSafeInteger(providers)
    )
      throw new ZStateError(ErrorCode.PROTOCOL, 'await service takes [service, providers]')
    const have = this.#services.get(name)?.providers.length ?? 0
    if (have >= providers) return okReply(id, [have])
    this.#waits.add(session, id, ownString(name), providers)
    return undefined
  }

  #notifyWaits(service: Service): void {
    const have = service.providers.length
    for (const { session, requestId } of this.#waits.satisfied(service.name, have))
      this.#options.send(session, okReply(requestId, [have]))
  }

  #withdraw(provider: Provider): void {
    if (provider.withdrawn) return
    provider.withdrawn = true
    provider.service.remove(provider)
    this.#changed()
    this.#orphanQueue(provider.service)
    if (provider.inFlight.size === 0) this.#retire(provider)
  }

  // Providers died or went silent: every one of them first, then each of their services' queues
  // once (orphaning after each one checked every queued call against every provider left, once per
  // provider lost).
  #loseAll(providers: readonly Provider[], reason: (provider: Provider) => string): void {
    if (providers.length === 0) return // every heartbeat asks, and most find none
    for (const provider of providers) this.#lose(provider, reason(provider))
    for (const service of new Set(providers.map((provider) => provider.service))) this.#orphanQueue(service)
  }

  // A provider died or went silent: its calls in flight fail, their outcome unknown (never retried).
  // Its service's queue is the caller's to orphan.
  #lose(provider: Provider, reason: string): void {
    provider.withdrawn = true
    provider.service.remove(provider)
    this.#changed()
    for (const call of [...provider.inFlight.values()]) {
      this.#settle(call)
      this.#answer(
        call,
        ErrorCode.PROVIDER_LOST,
        `the provider of ${describeCall(call)} (pid ${provider.session.pid}) was lost: ${reason}; ` +
          'the outcome of the call is unknown',
      )
    }
    this.#retire(provider)
  }

  // Queued calls that no remaining provider can take fail now rather than wait for their timeout.
  #orphanQueue(service: Service): void {
    // Whether a method is still offered, asked once per method rather than once per queued call.
    const offered = new Map<string, boolean>()
    const servable = (call: Call): boolean => {
      if (call.target !== undefined) return service.servable(call)
      const asked = `${call.local ? 'l' : 'a'}${call.method}`
      let answer = offered.get(asked)
      if (answer === undefined) offered.set(asked, (answer = service.servable(call)))
      return answer
    }
    this.#failing.add(service.dequeueWhere((queued) => !servable(queued)).map((call) => [call, 'orphaned']))
    this.#tidy(service)
  }

  // A queued call that left its queue unserved gets its error, unless its caller gave up on it meanwhile.
  #fail([call, failure]: [Call, Failure]): void {
    if (call.caller === undefined) return
    if (failure === 'timed out')
      this.#answer(
        call,
        ErrorCode.TIMEOUT,
        `call ${describeCall(call)} timed out waiting for a free provider`,
      )
    else
      this.#answer(
        call,
        ErrorCode.NO_PROVIDER,
        call.target === undefined
          ? `no provider left for ${describeCall(call)}: the last one went away before the call was dispatched`
          : `provider ${call.target.id}, chosen for ${describeCall(call)}, went away before the call was dispatched`,
      )
  }

  // The server is closing: calls still to be failed get nothing more.
  close(): void {
    this.#failing.clear()
  }

  // Removes a call from the books once its provider answered or was lost.
  #settle(call: Call): void {
    if (this.#calls.delete(call.id)) this.#heldBytes.total -= handedBytes(call)
    call.provider?.inFlight.delete(call.id)
    if (call.caller !== undefined) this.#parties.get(call.caller)?.calls.delete(call.requestId)
  }

  // Answers a call's caller with an error (and forgets the call).
  #answer(call: Call, code: ErrorCode, message: string): void {
    const caller = call.caller
    if (caller === undefined) return
    call.service.failed++
    call.caller = undefined
    this.#parties.get(caller)?.calls.delete(call.requestId)
    this.#options.send(caller, errorReplyOf(call.requestId, code, message))
  }

  #retire(provider: Provider): void {
    if (provider.inFlight.size > 0 || !this.#providers.delete(provider.id)) return
    this.#registryBytes -= provider.registryBytes
    const party = this.#parties.get(provider.session)
    if (party?.providers.get(provider.key) === provider) party.providers.delete(provider.key)
    this.#tidy(provider.service)
  }

  // A provider came or went.
  #changed(): void {
    this.#listing.changed()
    this.#options.changed?.()
  }

  #tidy(service: Service): void {
    if (!service.idle || this.#services.get(service.name) !== service) return
    this.#services.delete(service.name)
    // Its counters go on if it comes back (counters never go backwards), for the services gone most
    // recently: a client that provides endless new names moves the oldest out.
    if (service.calls === 0) return
    if (this.#gone.size >= MAX_GONE_SERVICES) this.#gone.delete(this.#gone.keys().next().value!)
    this.#gone.set(service.name, service)
  }
}

function refuse(service: Service, why: string): never {
  service.failed++
  throw new ZStateError(ErrorCode.OVERFLOW, `service '${service.name}': ${why}: call refused`)
}

// Method names for an error message: the first few, so the reply stays small however many a service has.
function listed(methods: readonly string[]): string {
  const shown = methods
    .slice(0, 20)
    .map((method) => (method.length > 64 ? `${method.slice(0, 64)}…` : method))
  return methods.length > shown.length
    ? `${shown.join(', ')} and ${methods.length - shown.length} more`
    : shown.join(', ')
}

// A service as SERVICES lists it: [name, providers, methods].
function describeService(service: Service): unknown[] {
  return [service.name, service.providers.length, service.methods()]
}

// A provider as services({ detail: true }) lists it: [id, client name, pid, concurrency, inFlight].
function describeProvider(provider: Provider): unknown[] {
  const { id, session, concurrency, inFlight } = provider
  return [id, session.name, session.pid, concurrency, inFlight.size]
}

function describeCall(call: Call): string {
  return `${call.service.name}.${call.method}`
}

// Whether a RESULT's values (its arguments after the call id and status) are values as a SET's are
// (a string that is not UTF-8, a "__proto__" key, an extension: the caller would read something else
// than the provider sent).
function inValueModel(args: unknown[]): boolean {
  try {
    // The id and status (a number each) pass: one walk, and no copy of the rest.
    adoptDecodedList(args)
    return true
  } catch {
    return false
  }
}

// The provider's RESULT becomes the caller's reply: the same status and payload under the caller's request id.
function forwarded(requestId: number, statusAndPayload: unknown[]): Buffer {
  return encode([requestId, ...statusAndPayload])
}
