// How something thrown in another process travels in an ERR_REMOTE reply (docs/protocol.md): the
// message, and the detail [remoteName, stack, remoteCode, pid, value, cause], where `value` is what
// was thrown when it was not an Error (remoteName 'NonError'), `cause` the error's own cause as
// [message, detail], and trailing parts that say nothing are left off. errorFromWire reads it.
import { types } from 'node:util'
import { MAX_CAUSES, RemoteError } from '../errors.ts'
import { safely, safeString } from '../guarded.ts'
import { toStoredValue } from './values.ts'

// A service handler's or server action's throw, or a RemoteError passed on as it came (a gateway's
// proxy, an action's error already made remote): its remote fields kept. Never throws: every read of
// the thrown value is guarded (getters, and a Proxy's traps, may throw), as a child's report is
// (lib/process/remote-error.ts). An Error of another realm (vm, a thread) counts as an Error; an
// object that only looks like one is a NonError, as a child's is.
export function remoteWire(thrown: unknown, depth = 0): { message: string; detail: unknown[] } {
  if (!safely(() => thrown instanceof Error || types.isNativeError(thrown), false)) {
    const text = describeThrown(thrown)
    return { message: text, detail: ['NonError', `NonError: ${text}`, null, process.pid, sendable(thrown)] }
  }
  const error = thrown as Error & { code?: unknown; cause?: unknown }
  const message = safeString(() => error.message, '')
  const detail: unknown[] = []
  if (error instanceof RemoteError) {
    detail.push(
      error.remoteName,
      safeString(() => error.remoteStack, message),
      safeString(() => error.remoteCode, '') || null,
      safely(() => error.pid ?? null, null),
    )
    if ('value' in error) detail.push(sendable(safely(() => error.value, undefined)))
  } else {
    const code = safely(() => error.code, undefined)
    detail.push(
      safeString(() => error.name, 'Error'),
      safeString(() => error.stack, message),
      typeof code === 'string' ? code : null,
      process.pid,
    )
  }
  const cause = safely(() => error.cause, undefined)
  if (cause !== undefined && depth < MAX_CAUSES) {
    const wire = remoteWire(cause, depth + 1)
    if (detail.length === 4) detail.push(null)
    detail.push([wire.message, wire.detail])
  }
  return { message, detail }
}

function describeThrown(value: unknown): string {
  return safely(
    () => String(value),
    safely(() => Object.prototype.toString.call(value), '[an unreadable value]'),
  )
}

// What was thrown, if it fits the value model; otherwise its description (undefined too: null is
// what `throw null` sends).
function sendable(value: unknown): unknown {
  if (value === undefined) return 'undefined'
  return safely(() => toStoredValue(value), describeThrown(value))
}
