// connect() and the Client: a connection (lib/link) with a replica (lib/client) and services and
// topics (lib/messaging) on it. The one module that puts the three together; none of them knows another.
import { inspect, type InspectOptionsStylized } from 'node:util'
import { Coverage } from './client/coverage.ts'
import { createMetrics } from './client/metrics.ts'
import { readServerInfo } from './client/replies.ts'
import { Replication } from './client/replication.ts'
import { StateView } from './client/state.ts'
import { WriteOrder } from './client/write-order.ts'
import type { State } from './client/state-types.ts'
import { StatusEvents } from './client/status.ts'
import type { Client, ConnectOptions, Metrics, ServerInfo, StatusEvent } from './client/types.ts'
import { deferred } from './deferred.ts'
import { invalidArgument, type ZStateError } from './errors.ts'
import { inspectAs } from './inspect.ts'
import { checkKnown } from './known-options.ts'
import { Connection, type LinkUser } from './link/connection.ts'
import { checkCurveCredentials, type CurveCredentials } from './link/handshake.ts'
import { ClientMessaging } from './messaging/messaging.ts'
import { addressList, checkConnectAddress } from './protocol/address.ts'
import { Op } from './protocol/ops.ts'
import { bounded, checkWaitOptions, type WaitOptions } from './wait.ts'
import { replicateOption } from './protocol/prefixes.ts'
import { shown } from './protocol/values.ts'

function timeoutOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value > 0))
    throw invalidArgument(`connect: ${name} must be a positive number of ms, got ${shown(value)}`)
  return value
}

const CONNECT_OPTIONS = [
  'timeout',
  'requestTimeout',
  'heartbeatTimeout',
  'name',
  'signal',
  'replicate',
  'curve',
]

export async function connect<S extends object = Record<string, unknown>>(
  address?: string | readonly string[],
  options: ConnectOptions = {},
): Promise<Client<S>> {
  const addresses = connectAddresses(address)
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('connect: options must be an object')
  checkKnown(options, CONNECT_OPTIONS, 'connect')
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === ''))
    throw invalidArgument('connect: name must be a non-empty string')
  const { signal } = options
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument('connect: signal must be an AbortSignal')
  const replicate = replicateOption(options.replicate, 'connect: replicate')
  const client = new ClientImpl<S>(addresses, {
    timeout: timeoutOption(options.timeout, 'timeout', 10_000),
    requestTimeout: timeoutOption(options.requestTimeout, 'requestTimeout', 30_000),
    heartbeatTimeout:
      options.heartbeatTimeout === undefined
        ? undefined
        : timeoutOption(options.heartbeatTimeout, 'heartbeatTimeout', 0),
    name: options.name,
    replicate,
    curve: options.curve === undefined ? undefined : checkCurveCredentials(options.curve, 'connect'),
  })
  await client.start(signal)
  return client
}

// One address, or several gateways to one state (a list, or ZSTATE_ADDRESS separated by commas).
function connectAddresses(address: string | readonly string[] | undefined): string[] {
  const given =
    address ??
    (process.env.ZSTATE_ADDRESS === undefined ? undefined : addressList(process.env.ZSTATE_ADDRESS))
  if (given === undefined || given === '' || (Array.isArray(given) && given.length === 0) || given[0] === '')
    throw invalidArgument('connect: no address given and ZSTATE_ADDRESS is not set')
  const addresses: unknown[] = typeof given === 'string' ? [given] : Array.isArray(given) ? given : [given]
  for (const one of addresses) {
    if (typeof one !== 'string')
      throw invalidArgument(`connect: address must be a string or a list of strings, got ${typeof one}`)
    checkConnectAddress(one)
  }
  return addresses as string[]
}

export interface ClientSettings {
  timeout: number
  requestTimeout: number
  heartbeatTimeout: number | undefined
  name: string | undefined
  // Key prefixes of a partial replica; undefined: everything.
  replicate?: readonly string[] | undefined
  // CURVE keys; undefined: none.
  curve: CurveCredentials | undefined
  // The token of the context child this client runs in (lib/link/link.ts); undefined: none.
  childToken?: string | undefined
}

// A replica's place in the server's history: [epoch, revision].
export type Position = readonly [epoch: string, revision: number]

export class ClientImpl<S extends object> implements Client<S> {
  readonly state: State<S>
  readonly closed: Promise<Error | undefined>
  // Services and topics (lib/messaging): its bound methods are this client's.
  readonly provide: Client<S>['provide']
  readonly call: Client<S>['call']
  readonly service: Client<S>['service']
  readonly services: Client<S>['services']
  readonly waitForService: Client<S>['waitForService']
  readonly publish: Client<S>['publish']
  readonly subscribe: Client<S>['subscribe']
  readonly #metrics = createMetrics()
  readonly #status = new StatusEvents()
  readonly #closed = deferred<Error | undefined>()
  readonly #connection: Connection
  readonly #replication: Replication
  #closing: Promise<void> | undefined

  constructor(addresses: readonly string[], settings: ClientSettings) {
    this.closed = this.#closed.promise
    const replication = new Replication(
      this.#metrics,
      {
        reset: () => this.#status.emit('reset'),
        replaced: (link) => this.#connection.lose(link, 'the server was replaced (new epoch)'),
        broken: (link, reason) => this.#connection.lose(link, reason),
      },
      new Coverage(settings.replicate),
    )
    this.#replication = replication
    this.#connection = new Connection(
      { addresses, ...settings, replicate: settings.replicate, traffic: this.#metrics },
      replication,
      (event) => this.#status.emit(event),
    )
    const messaging = new ClientMessaging(this.#connection)
    this.#connection.use(messaging)
    this.provide = messaging.provide
    this.call = messaging.call
    this.service = messaging.service
    this.services = messaging.services
    this.waitForService = messaging.waitForService
    this.publish = messaging.publish
    this.subscribe = messaging.subscribe
    const host = {
      sync: replication.sync,
      counters: this.#metrics,
      request: this.#connection.request.bind(this.#connection),
      writes: new WriteOrder(this.#connection),
      closing: this.#connection.closing,
      refusal: this.#connection.refusal,
    }
    this.state = new StateView(host, '') as unknown as State<S>
  }

  // The server in use: with several addresses, the one it is connected to (or last tried).
  get address(): string {
    return this.#connection.address
  }

  // Joins; a failed join closes the client (a context: its server too).
  async start(signal?: AbortSignal): Promise<void> {
    try {
      await this.#connection.open(signal)
    } catch (error) {
      await this.close()
      throw error
    }
  }

  // Where this replica stands: a child reports it with its result, so that its parent's replica
  // shows what the child wrote before the parent gets the result (lib/process/child.ts).
  get position(): Position {
    const { epoch, revision } = this.#replication.sync.replica
    return [epoch, revision]
  }

  // Resolves once this replica shows `position` (at once for another epoch's); never rejects: a
  // closed client or a replaced server ends the wait.
  async reached([epoch, revision]: Position): Promise<void> {
    const { sync } = this.#replication
    if (sync.replica.epoch === epoch) await sync.reach(revision).catch(() => {})
  }

  // One request to the server, waiting for a reconnection within requestTimeout when it is away.
  request(op: Op, args: readonly unknown[]): Promise<unknown[]> {
    return this.#connection.request(op, args)
  }

  async server(options?: WaitOptions): Promise<ServerInfo> {
    checkWaitOptions(options, 'server')
    const info = bounded(this.request(Op.INFO, []), options, 'server()', undefined, this.#connection.refusal)
    return readServerInfo(await info)
  }

  status(): AsyncIterable<StatusEvent> {
    return this.#status.iterate()
  }

  metrics(): Metrics {
    return { ...this.#metrics }
  }

  close(): Promise<void> {
    return this.closeFor(undefined)
  }

  // Told of every link this client joins (its first and each reconnection: a new session), and of
  // its close.
  protected useLinks(user: LinkUser): void {
    this.#connection.use(user)
  }

  // Closes; with a cause (the client cannot go on), every request fails with it and `closed`
  // resolves with it.
  protected closeFor(cause: ZStateError | undefined): Promise<void> {
    this.#closing ??= this.#connection.close(cause).then(() => this.#closed.resolve(cause))
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    const fields = {
      address: this.address,
      status: this.#connection.status,
      revision: this.state.revision,
      keys: this.state.size,
    }
    return inspectAs('Client', fields, depth, options, show)
  }
}
