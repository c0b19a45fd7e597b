// What a handler threw, as the error part of a RESULT: the caller rebuilds it as a RemoteError.
import { ErrorCode, ZStateError } from '../errors.ts'
import { Status } from '../protocol/ops.ts'
import { remoteWire } from '../protocol/remote-detail.ts'
import { safely } from '../guarded.ts'
import { textPrefix } from '../text-prefix.ts'

// The broker's errors a forwarded call may meet, which its caller should see as they are.
const PASSED_ON = new Set<string>([
  ErrorCode.NO_PROVIDER,
  ErrorCode.PROVIDER_LOST,
  ErrorCode.TIMEOUT,
  ErrorCode.OVERFLOW,
])

// Those errors as an etcd gateway's proxy met them forwarding a call. Only a proxy's: a handler's
// own call that failed is its failure (ERR_REMOTE), or its caller could not tell a call that never
// ran from a handler that ran, and changed things, before its own call failed.
const passedOn = new WeakSet<ZStateError>()

// Rethrows `error`, to be passed on to the caller as it came if it is one of the broker's.
export function passOn(error: unknown): never {
  if (error instanceof ZStateError && PASSED_ON.has(error.code)) passedOn.add(error)
  throw error
}

// [status, code, message, detail]: a handler's throw as remoteWire() carries it. A proxy passes on
// a call's failure as it came: a RemoteError with its remote fields, the broker's own errors with
// their codes.
export function remoteFailure(thrown: unknown): unknown[] {
  if (safely(() => thrown instanceof ZStateError && passedOn.has(thrown), false))
    return [Status.ERROR, (thrown as ZStateError).code, (thrown as ZStateError).message]
  const { message, detail } = remoteWire(thrown)
  return [Status.ERROR, ErrorCode.REMOTE, message, detail]
}

// The longest message, stack, name or code a cut failure keeps, in characters.
const CUT_LENGTH = 16_384

// A failure as remoteFailure() made it, too large to send: its message, name, stack and code cut
// to CUT_LENGTH, its thrown value and cause left out.
export function cutFailure([status, code, message, detail]: unknown[]): unknown[] {
  if (!Array.isArray(detail)) return [status, code, cut(message)]
  const [name, stack, remoteCode, pid] = detail as unknown[]
  return [
    status,
    code,
    cut(message),
    [cut(name), cut(stack), typeof remoteCode === 'string' ? cut(remoteCode) : null, pid],
  ]
}

function cut(text: unknown): string {
  const whole = typeof text === 'string' ? text : String(text)
  if (whole.length <= CUT_LENGTH) return whole
  const kept = textPrefix(whole, CUT_LENGTH)
  return `${kept}… (${whole.length - kept.length} more characters cut: too large to send)`
}
