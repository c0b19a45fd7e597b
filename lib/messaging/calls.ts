// The calling side of services: call(), the typed proxy, discovery and waitForService.
import { ErrorCode, ZStateError, invalidArgument, isZStateError } from '../errors.ts'
import { checkName } from '../protocol/names.ts'
import { Op } from '../protocol/ops.ts'
import { adoptDecoded, checkStorable, describe, shown, toStoredValue } from '../protocol/values.ts'
import { WAIT_OPTIONS, bounded, checkWaitOptions } from '../wait.ts'
import { lateRequest, type MessagingHost } from './host.ts'
import { readServiceDetails, readServiceList } from './replies.ts'
import type {
  CallOptions,
  RequestOptions,
  ServiceDetail,
  ServiceInfo,
  ServiceProxy,
  WaitForServiceOptions,
} from './types.ts'

// The names call() and service() take, and waitForService().
const CALL_OPTIONS = [...WAIT_OPTIONS, 'provider']
const WAIT_FOR_SERVICE_OPTIONS = [...WAIT_OPTIONS, 'providers']
const SERVICES_OPTIONS = [...WAIT_OPTIONS, 'detail']

const DEFAULT_CALL_TIMEOUT = 30_000

// How long after a reconnection the providers of the server before may still be registering again
// with this one (as they do by themselves once they have reconnected too), in ms; 0 or less: not now.
export type ReregistrationLeft = () => number

export async function call(
  host: MessagingHost,
  name: string,
  method: string,
  args: readonly unknown[] = [],
  options: CallOptions = {},
  reregistrationLeft: ReregistrationLeft,
): Promise<unknown> {
  checkName(name, 'call: service name')
  checkName(method, 'call: method')
  if (!Array.isArray(args)) throw invalidArgument(`call: args must be an array, got ${describe(args)}`)
  const provider = checkCallOptions(options, 'call')
  const payload = encodable(args, `call ${name}.${method}: args`)
  const timeout = options.timeout ?? DEFAULT_CALL_TIMEOUT
  const started = Date.now()
  const send = (within: number): Promise<unknown[]> =>
    lateRequest(host, {
      op: Op.CALL,
      args: (remaining) =>
        provider === undefined
          ? [name, method, payload, remaining ?? within]
          : [name, method, payload, remaining ?? within, provider],
      wait: { timeout: within, signal: options.signal },
      what: `call ${name}.${method}`,
      resend: false,
    })
  let reply: unknown[]
  try {
    reply = await send(timeout)
  } catch (error) {
    // Just after a reconnection, a service with no provider yet may be one whose providers have not
    // registered again: the call waits for one (nothing ran, so it can be sent again), within its timeout.
    const wait = Math.min(reregistrationLeft(), timeout - (Date.now() - started))
    if (
      provider !== undefined ||
      wait <= 0 ||
      !(isZStateError(error) && error.code === ErrorCode.NO_PROVIDER)
    )
      throw error
    const back = await waitForService(host, name, { timeout: wait, signal: options.signal }).then(
      () => true,
      (waiting: unknown) => {
        if (options.signal?.aborted === true) throw waiting
        return false
      },
    )
    if (!back) throw error
    reply = await send(Math.max(0, timeout - (Date.now() - started)))
  }
  return reply.length === 0 ? undefined : adoptDecoded(reply[0])
}

// A value as the state would store it (docs/state.md "Values"), or ERR_UNENCODABLE naming where it failed.
// `copy`: false for a value encoded at once (what a request or post sends: lib/link/channel.ts), which is
// only checked; a copy for one that is encoded later.
export function encodable(value: unknown, what: string, copy = true): unknown {
  try {
    return copy ? toStoredValue(value) : checkStorable(value)
  } catch (error) {
    const message = (error as Error).message
      .replace(/^value/, '')
      .replace('cannot be stored', 'cannot be sent')
    throw new ZStateError(ErrorCode.UNENCODABLE, `${what}${message}`, { cause: error })
  }
}

// A proxy whose every property is a method calling the service, but for the names JavaScript itself
// reads from an object: awaiting it (`then`), JSON.stringify (`toJSON`) and conversions (`valueOf`,
// `constructor`; `toString` names the service) call nothing, and their rejections went unhandled.
const NOT_METHODS = new Set(['then', 'toJSON', 'valueOf', 'constructor'])

export function serviceProxy<Api extends object>(
  host: MessagingHost,
  name: string,
  options: CallOptions = {},
  reregistrationLeft: ReregistrationLeft,
): ServiceProxy<Api> {
  checkName(name, 'service: name')
  checkCallOptions(options, 'service')
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>()
  return new Proxy(Object.create(null) as object, {
    get(_target, property) {
      if (typeof property !== 'string' || NOT_METHODS.has(property)) return undefined
      if (property === 'toString' || property === 'toLocaleString') return () => `[zstate service ${name}]`
      let method = methods.get(property)
      if (method === undefined) {
        method = (...args: unknown[]) => call(host, name, property, args, options, reregistrationLeft)
        methods.set(property, method)
      }
      return method
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  }) as ServiceProxy<Api>
}

export async function services(
  host: MessagingHost,
  options: RequestOptions & { detail?: boolean } = {},
): Promise<ServiceInfo[] | ServiceDetail[]> {
  checkWaitOptions(options, 'services', SERVICES_OPTIONS)
  const { detail = false } = options
  if (typeof detail !== 'boolean') throw invalidArgument('services: detail must be a boolean')
  const request = host.request(Op.SERVICES, detail ? [true] : [])
  const reply = await bounded(request, options, 'services()', undefined, host.refusal)
  return detail ? readServiceDetails(reply) : readServiceList(reply)
}

// timeout and signal, and the provider id a call may name.
function checkCallOptions(options: CallOptions, what: string): number | undefined {
  checkWaitOptions(options, what, CALL_OPTIONS)
  const { provider } = options
  if (provider !== undefined && !(Number.isSafeInteger(provider) && provider >= 1))
    throw invalidArgument(`${what}: provider must be a provider id (an integer ≥ 1), got ${shown(provider)}`)
  return provider
}

export async function waitForService(
  host: MessagingHost,
  name: string,
  options: WaitForServiceOptions = {},
): Promise<void> {
  checkName(name, 'waitForService: name')
  checkWaitOptions(options, 'waitForService', WAIT_FOR_SERVICE_OPTIONS)
  const providers = options.providers ?? 1
  if (!Number.isSafeInteger(providers) || providers < 1)
    throw invalidArgument(`waitForService: providers must be an integer ≥ 1, got ${shown(providers)}`)
  await lateRequest(host, {
    op: Op.AWAIT_SERVICE,
    args: () => [name, providers],
    wait: { timeout: options.timeout, signal: options.signal },
    what: `waitForService('${name}'${providers === 1 ? '' : `, { providers: ${providers} }`})`,
    caller: waitForService,
    resend: true,
  })
}
