// What a handler threw, as the error part of a RESULT: the caller rebuilds it as a RemoteError.
import { ErrorCode, RemoteError, ZStateError } from '../errors.ts'

// The broker's errors a forwarded call may meet, which its caller should see as they are.
const PASSED_ON = new Set<string>([
  ErrorCode.NO_PROVIDER,
  ErrorCode.PROVIDER_LOST,
  ErrorCode.TIMEOUT,
  ErrorCode.OVERFLOW,
])
import { Status } from '../protocol/ops.ts'
import { toStoredValue } from '../protocol/values.ts'

// [status, code, message, [remoteName, stack, remoteCode, pid, value?]]: the shape errorFromWire reads.
// A handler that passes on a call to another provider (an etcd gateway's proxy) passes on its failure
// as it came: a RemoteError with its remote fields, and the broker's own errors with their codes.
export function remoteFailure(thrown: unknown): unknown[] {
  if (thrown instanceof RemoteError)
    return [
      Status.ERROR,
      ErrorCode.REMOTE,
      thrown.message,
      [
        thrown.remoteName,
        thrown.remoteStack ?? thrown.message,
        thrown.remoteCode ?? null,
        thrown.pid ?? null,
        ...('value' in thrown ? [sendable(thrown.value)] : []),
      ],
    ]
  if (thrown instanceof ZStateError && PASSED_ON.has(thrown.code))
    return [Status.ERROR, thrown.code, thrown.message]
  if (thrown instanceof Error || isErrorLike(thrown)) {
    const error = thrown as Error & { code?: unknown }
    const code = typeof error.code === 'string' ? error.code : null
    return [
      Status.ERROR,
      ErrorCode.REMOTE,
      String(error.message),
      [String(error.name), error.stack ?? String(error.message), code, process.pid],
    ]
  }
  return [
    Status.ERROR,
    ErrorCode.REMOTE,
    safeString(thrown),
    ['NonError', `NonError: ${safeString(thrown)}`, null, process.pid, sendable(thrown)],
  ]
}

function isErrorLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Error).message === 'string' &&
    typeof (value as Error).name === 'string'
  )
}

function safeString(value: unknown): string {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

// What was thrown, if it fits the value model; otherwise its description.
function sendable(value: unknown): unknown {
  if (value === undefined) return null
  try {
    return toStoredValue(value)
  } catch {
    return safeString(value)
  }
}
