// What the server sends messaging, read and checked: the service list and the pushes a provider gets.
// Each reader returns a typed value or throws ERR_PROTOCOL.
import { malformed } from '../link/replies.ts'
import { isList, isRequestId } from '../protocol/frames.ts'
import { Push } from '../protocol/ops.ts'
import type { ProviderInfo, ServiceDetail, ServiceInfo } from './types.ts'

export function readServiceList(reply: readonly unknown[]): ServiceInfo[] {
  const [list] = reply
  if (!isList(list)) throw malformed('service list')
  return list.map((entry): ServiceInfo => {
    if (!isList(entry)) throw malformed('service list entry')
    const [name, providers, methods] = entry
    if (
      typeof name !== 'string' ||
      typeof providers !== 'number' ||
      !isList(methods) ||
      !methods.every((method) => typeof method === 'string')
    )
      throw malformed('service list entry')
    return { name, providers, methods: [...methods] }
  })
}

// SERVICES [true]: each entry also lists its providers, [[id, name, pid, concurrency, inFlight], …].
export function readServiceDetails(reply: readonly unknown[]): ServiceDetail[] {
  const [list] = reply
  if (!isList(list)) throw malformed('service list')
  return readServiceList(reply).map((service, i) => {
    const providers = (list[i] as unknown[])[3]
    if (!isList(providers)) throw malformed('service list entry')
    return {
      name: service.name,
      methods: service.methods,
      providers: providers.map((entry): ProviderInfo => {
        if (!isList(entry)) throw malformed('provider entry')
        const [id, name, pid, concurrency, inFlight] = entry
        if (
          typeof id !== 'number' ||
          typeof name !== 'string' ||
          typeof pid !== 'number' ||
          typeof concurrency !== 'number' ||
          typeof inFlight !== 'number'
        )
          throw malformed('provider entry')
        return { id, name, pid, concurrency, inFlight }
      }),
    }
  })
}

// A push (a reply with request id 0): a call for one of our providers, or the news that the server
// dropped one.
export type ProviderPush =
  | { kind: 'call'; callId: number; key: number; method: string; args: unknown }
  | { kind: 'dropped'; key: number }

// undefined for a kind of push this client does not know: it is ignored.
export function readPush(push: readonly unknown[]): ProviderPush | undefined {
  const [, kind, first, key, method, args] = push
  if (kind === Push.CALL) {
    if (!isRequestId(first) || typeof key !== 'number' || typeof method !== 'string')
      throw malformed('pushed call')
    return { kind: 'call', callId: first, key, method, args }
  }
  if (kind === Push.DROPPED) {
    if (typeof first !== 'number') throw malformed('push')
    return { kind: 'dropped', key: first }
  }
  return undefined
}
