// Errors crossing from a child to its parent: serialised where they were thrown, rebuilt as a
// RemoteError (message, remote stack, name, code, pid, cause chain; `value` for a thrown non-Error).
import { inspect } from 'node:util'
import { MAX_CAUSES, RemoteError } from '../errors.ts'
import { cloneable } from './cloneable.ts'

export interface SerializedError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  readonly code?: string
  readonly cause?: SerializedError
  // Set when the thrown value was not an Error; `value` is it, or its inspection when not cloneable.
  readonly nonError?: true
  readonly value?: unknown
}

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return {
      name: 'NonError',
      message: `a non-Error value was thrown: ${inspect(error, { depth: 2, breakLength: Infinity })}`,
      nonError: true,
      value: cloneable(error) ? error : inspect(error),
    }
  }
  const code = (error as { code?: unknown }).code
  const cause = (error as { cause?: unknown }).cause
  return {
    name: safeString(() => error.name, 'Error'),
    message: safeString(() => error.message, ''),
    ...(typeof error.stack === 'string' ? { stack: error.stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
    ...(cause !== undefined && depth < MAX_CAUSES ? { cause: serializeError(cause, depth + 1) } : {}),
  }
}

// Rebuilds a child's error in the parent; `pid` is the child's process.
export function remoteError(error: SerializedError, pid: number | undefined): RemoteError {
  const cause = error.cause === undefined ? undefined : remoteError(error.cause, pid)
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

// A hostile error's getters may throw; the report must not.
function safeString(read: () => unknown, fallback: string): string {
  try {
    const value = read()
    return typeof value === 'string' ? value : fallback
  } catch {
    return fallback
  }
}

// Where a child was started, for the local half of its errors' stacks (the frames where the error
// object happens to be built are zstate's own and say nothing).
export function callSite(): string {
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, callSite)
  return (holder.stack ?? '').split('\n').slice(2).join('\n')
}

// The remote stack, then the frames of the call that started the child.
export function withCallSite(error: unknown, site: string): unknown {
  if (!(error instanceof RemoteError) || error.remoteStack === undefined || site === '') return error
  error.stack = `${error.remoteStack}\n    at (remote boundary)\n${error.name}: ${error.message}\n${site}`
  return error
}
