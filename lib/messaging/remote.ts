// What a handler threw, as the error part of a RESULT: the caller rebuilds it as a RemoteError.
import { ErrorCode } from '../errors.ts'
import { Status } from '../protocol/ops.ts'
import { toStoredValue } from '../protocol/values.ts'

// [status, code, message, [remoteName, stack, remoteCode, pid, value?]]: the shape errorFromWire reads.
export function remoteFailure(thrown: unknown): unknown[] {
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
