// One named service at the broker: its providers in round-robin order and the calls waiting for one.
import type { Session } from './sessions.ts'

export interface Provider {
  readonly id: number
  // The client's number for it (PROVIDE), unique within its session: pushes and WITHDRAW name it.
  readonly key: number
  readonly session: Session
  readonly service: Service
  readonly methods: ReadonlySet<string>
  // The UTF-8 bytes of its service's, methods' and client's names, counted against the broker's bound.
  readonly registryBytes: number
  readonly concurrency: number
  // Calls pushed to this provider and not answered yet, by call id.
  readonly inFlight: Map<number, Call>
  // Withdrawn: gets no new calls, but its calls in flight still report their results.
  withdrawn: boolean
  // A peer gateway's stand-in for the providers it has (lib/server/etcd/federation.ts).
  readonly proxy: boolean
}

export interface Call {
  readonly id: number
  // undefined once the caller cancelled or went away: the result is then dropped.
  caller: Session | undefined
  readonly requestId: number
  readonly service: Service
  readonly method: string
  // The arguments; encoded while the call waits in a queue (so their size is what the queue holds,
  // and they are encoded once); undefined once pushed to a provider, as the server holds them no more.
  args: readonly unknown[] | Buffer | undefined
  readonly deadline: number
  provider: Provider | undefined
  // The one provider the caller chose (CALL's fifth argument); undefined: any of them.
  readonly target: Provider | undefined
  // Forwarded by a peer gateway: only this gateway's own providers take it, never a proxy (which
  // would send it back).
  readonly local: boolean
}

// The bytes of the calls a broker holds: queued in every service (queuedBytes) and handed to a
// provider (handedBytes). The broker counts the latter.
export interface HeldBytes {
  total: number
}

export class Service {
  readonly name: string
  readonly providers: Provider[] = []
  // Calls beyond every provider's concurrency, oldest first: changed only here, so that the bytes
  // they hold are counted.
  #queue: Call[] = []
  readonly #queued: HeldBytes
  // For STATS: calls made to it (refused ones included), and those that got no result.
  calls = 0
  failed = 0
  #next = 0

  constructor(name: string, queued: HeldBytes) {
    this.name = name
    this.#queued = queued
  }

  get queue(): readonly Call[] {
    return this.#queue
  }

  // A call whose arguments are encoded (what it holds while it waits).
  enqueue(call: Call): void {
    this.#queue.push(call)
    this.#queued.total += queuedBytes(call)
  }

  // Removes and returns the queued calls `leaving` picks.
  dequeueWhere(leaving: (call: Call) => boolean): Call[] {
    const left: Call[] = []
    const kept: Call[] = []
    for (const call of this.#queue) (leaving(call) ? left : kept).push(call)
    if (left.length === 0) return left
    this.#queue = kept
    for (const call of left) this.#queued.total -= queuedBytes(call)
    return left
  }

  get idle(): boolean {
    return this.providers.length === 0 && this.queue.length === 0
  }

  offers(method: string, local = false): boolean {
    return this.providers.some((provider) => takes(provider, method, local))
  }

  // The union of every provider's methods, sorted.
  methods(): string[] {
    const all = new Set<string>()
    for (const provider of this.providers) for (const method of provider.methods) all.add(method)
    return [...all].sort()
  }

  add(provider: Provider): void {
    this.providers.push(provider)
  }

  remove(provider: Provider): void {
    const at = this.providers.indexOf(provider)
    if (at === -1) return
    this.providers.splice(at, 1)
    if (at < this.#next) this.#next--
    if (this.#next >= this.providers.length) this.#next = 0
  }

  // Round robin over the providers that offer `method` and have a free slot.
  pick(method: string, local: boolean): Provider | undefined {
    const n = this.providers.length
    for (let k = 0; k < n; k++) {
      const at = (this.#next + k) % n
      const provider = this.providers[at]!
      if (provider.inFlight.size < provider.concurrency && takes(provider, method, local)) {
        this.#next = (at + 1) % n
        return provider
      }
    }
    return undefined
  }

  // Whether a queued call can still be served: its method is offered, and its chosen provider lives.
  servable(call: Call): boolean {
    return call.target === undefined ? this.offers(call.method, call.local) : !call.target.withdrawn
  }

  // The oldest queued call `provider` can take, removed from the queue.
  takeFor(provider: Provider): Call | undefined {
    const at = this.#queue.findIndex(
      (call) =>
        takes(provider, call.method, call.local) && (call.target === undefined || call.target === provider),
    )
    if (at === -1) return undefined
    return this.#take(at)
  }

  unqueue(call: Call): boolean {
    const at = this.#queue.indexOf(call)
    return at !== -1 && this.#take(at) !== undefined
  }

  #take(at: number): Call | undefined {
    const [call] = this.#queue.splice(at, 1)
    if (call !== undefined) this.#queued.total -= queuedBytes(call)
    return call
  }
}

function takes(provider: Provider, method: string, local: boolean): boolean {
  return provider.methods.has(method) && !(local && provider.proxy)
}

// What a queued call holds: its encoded arguments, its method's name and its own record (about
// 320 bytes measured), so that calls of empty arguments count too.
export const QUEUED_CALL_OVERHEAD = 320

export function queuedBytes(call: Pick<Call, 'args' | 'method'>): number {
  return (call.args instanceof Buffer ? call.args.length : 0) + handedBytes(call)
}

// What a call handed to a provider holds until its result: its record and its method's name (the
// arguments went with the push).
export function handedBytes(call: Pick<Call, 'method'>): number {
  return call.method.length + QUEUED_CALL_OVERHEAD
}
