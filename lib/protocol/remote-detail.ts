// How something thrown in another process travels in an ERR_REMOTE reply (docs/protocol.md): the
// message, and the detail [remoteName, stack, remoteCode, pid, value, cause], where `value` is what
// was thrown when it was not an Error (remoteName 'NonError'), `cause` the error's own cause as
// [message, detail], and trailing parts that say nothing are left off. errorFromWire reads it.
import { MAX_CAUSES, RemoteError } from '../errors.ts'
import { toStoredValue } from './values.ts'

// A service handler's or server action's throw, or a RemoteError passed on as it came (a gateway's
// proxy, an action's error already made remote): its remote fields kept.
export function remoteWire(thrown: unknown, depth = 0): { message: string; detail: unknown[] } {
  if (!(thrown instanceof Error) && !isErrorLike(thrown)) {
    const text = safeString(thrown)
    return { message: text, detail: ['NonError', `NonError: ${text}`, null, process.pid, sendable(thrown)] }
  }
  const error = thrown as Error & { code?: unknown; cause?: unknown }
  const message = String(error.message)
  const detail: unknown[] =
    error instanceof RemoteError
      ? [error.remoteName, error.remoteStack ?? message, error.remoteCode ?? null, error.pid ?? null]
      : [
          String(error.name),
          error.stack ?? message,
          typeof error.code === 'string' ? error.code : null,
          process.pid,
        ]
  if (error instanceof RemoteError && 'value' in error) detail.push(sendable(error.value))
  if (error.cause !== undefined && depth < MAX_CAUSES) {
    const cause = remoteWire(error.cause, depth + 1)
    if (detail.length === 4) detail.push(null)
    detail.push([cause.message, cause.detail])
  }
  return { message, detail }
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

// What was thrown, if it fits the value model; otherwise its description (undefined too: null is
// what `throw null` sends).
function sendable(value: unknown): unknown {
  if (value === undefined) return 'undefined'
  try {
    return toStoredValue(value)
  } catch {
    return safeString(value)
  }
}
