// Errors crossing from a child to its parent: serialised where they were thrown, rebuilt as a
// RemoteError (message, remote stack, name, code, pid, cause chain; `value` for a thrown non-Error).
import { inspect } from 'node:util'
import { MAX_CAUSES, RemoteError } from '../errors.ts'
import { cloneable, toParent } from './cloneable.ts'
import { safely, safeString } from '../guarded.ts'

export interface SerializedError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  readonly code?: string
  // Where it was thrown, when that was not the child reporting it (a grandchild's error passed on).
  readonly pid?: number
  readonly cause?: SerializedError
  // Set when the thrown value was not an Error; `value` is it, or its inspection when not cloneable.
  readonly nonError?: true
  readonly value?: unknown
}

// Never throws: whatever a child's function threw, a report of it reaches the parent. Every read of
// the thrown value is guarded (getters, and a Proxy's traps, may throw).
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!safely(() => error instanceof Error, false)) {
    const shown = safely(() => inspect(error, { depth: 2, breakLength: Infinity }), '[uninspectable value]')
    return {
      name: 'NonError',
      message: `a non-Error value was thrown: ${shown}`,
      nonError: true,
      value: safely(() => cloneable(error, toParent), false) ? error : shown,
    }
  }
  const thrown = error as Error & { code?: unknown }
  const stack = safely(() => thrown.stack, undefined)
  const cause = safely(() => thrown.cause, undefined)
  const fields = {
    message: safeString(() => thrown.message, ''),
    ...(typeof stack === 'string' ? { stack } : {}),
    ...(cause !== undefined && depth < MAX_CAUSES ? { cause: serializeError(cause, depth + 1) } : {}),
  }
  // A grandchild's error (or a service's) that the child let through keeps its origin: its name and
  // code, so that a retryOn or a catch above matches what was thrown there, not 'RemoteError'.
  const origin = safely(() => (error instanceof RemoteError ? originOf(error) : undefined), undefined)
  if (origin !== undefined) return { ...fields, ...origin }
  const code = safely(() => thrown.code, undefined)
  return {
    ...fields,
    name: safeString(() => thrown.name, 'Error'),
    ...(typeof code === 'string' ? { code } : {}),
  }
}

// What a RemoteError's report keeps of where it was thrown.
function originOf({ remoteName, remoteCode, pid, value }: RemoteError): Omit<SerializedError, 'message'> {
  return {
    name: remoteName,
    ...(remoteCode === undefined ? {} : { code: remoteCode }),
    ...(pid === undefined ? {} : { pid }),
    ...(remoteName === 'NonError' ? { nonError: true, value } : {}),
  }
}

// Rebuilds a child's error in the parent; `pid` is the child's process.
export function remoteError(error: SerializedError, child: number | undefined): RemoteError {
  const pid = error.pid ?? child
  const cause = error.cause === undefined ? undefined : remoteError(error.cause, child)
  return new RemoteError(
    error.message,
    {
      remoteName: error.name,
      ...(error.code === undefined ? {} : { remoteCode: error.code }),
      ...(pid === undefined ? {} : { pid }),
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(error.nonError === true ? { value: error.value } : {}),
    },
    cause === undefined ? undefined : { cause },
  )
}

export function isSerializedError(value: unknown): value is SerializedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SerializedError).name === 'string' &&
    typeof (value as SerializedError).message === 'string'
  )
}

// Where a child was started, for the local half of its errors' stacks (the frames where the error
// object happens to be built are zstate's own and say nothing).
export function callSite(): string {
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, callSite)
  return (holder.stack ?? '').split('\n').slice(2).join('\n')
}

// The remote stack (a thrown non-Error has none: its name and message), then the frames of the call
// that started the child.
export function withCallSite(error: unknown, site: string): unknown {
  if (!(error instanceof RemoteError) || site === '') return error
  const remote = error.remoteStack ?? `${error.remoteName}: ${error.message}`
  error.stack = `${remote}\n    at (remote boundary)\n${error.name}: ${error.message}\n${site}`
  return error
}
