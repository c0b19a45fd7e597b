// Every error zstate originates: one class with a stable `code`, subclasses where callers need fields.

export const ErrorCode = {
  TIMEOUT: 'ERR_TIMEOUT',
  ABORTED: 'ERR_ABORTED',
  CLOSED: 'ERR_CLOSED',
  DISCONNECTED: 'ERR_DISCONNECTED',
  CONFLICT: 'ERR_CONFLICT',
  COMPACTED: 'ERR_COMPACTED',
  OVERFLOW: 'ERR_OVERFLOW',
  PROTOCOL: 'ERR_PROTOCOL',
  TOO_LARGE: 'ERR_TOO_LARGE',
  UNENCODABLE: 'ERR_UNENCODABLE',
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  NO_PROVIDER: 'ERR_NO_PROVIDER',
  PROVIDER_LOST: 'ERR_PROVIDER_LOST',
  REMOTE: 'ERR_REMOTE',
  PROCESS_EXIT: 'ERR_PROCESS_EXIT',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

const codes = new Set<string>(Object.values(ErrorCode))
// A registered symbol, so the check works across duplicate installs of zstate.
const brand = Symbol.for('zstate.error')

export class ZStateError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    Object.defineProperty(this, brand, { value: true })
  }
  override get name(): string {
    return 'ZStateError'
  }
}

export class TimeoutError extends ZStateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.TIMEOUT, message, options)
  }
  override get name(): string {
    return 'TimeoutError'
  }
}

export class ConflictError extends ZStateError {
  readonly keys: string[]
  // The server's revision when it found the conflict: a retry waits until the replica has it.
  readonly revision: number
  constructor(message: string, keys: string[], revision = 0, options?: { cause?: unknown }) {
    super(ErrorCode.CONFLICT, message, options)
    this.keys = keys
    this.revision = revision
  }
  override get name(): string {
    return 'ConflictError'
  }
}

export class RemoteError extends ZStateError {
  readonly remoteName: string
  readonly remoteCode: string | undefined
  readonly pid: number | undefined
  readonly value?: unknown
  // The stack as it was on the far side, without the local frames.
  readonly remoteStack: string | undefined
  // From ctx.map: the index of the item that failed (set only there, so declared, not initialised).
  declare readonly index?: number
  constructor(
    message: string,
    fields: { remoteName: string; remoteCode?: string; pid?: number; stack?: string; value?: unknown },
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.REMOTE, message, options)
    this.remoteName = fields.remoteName
    this.remoteCode = fields.remoteCode
    this.pid = fields.pid
    if ('value' in fields) this.value = fields.value
    this.remoteStack = fields.stack
    if (fields.stack !== undefined)
      this.stack = `${fields.stack}\n    at (remote boundary)\n${this.stack ?? ''}`
  }
  override get name(): string {
    return 'RemoteError'
  }
}

export class ProcessExitError extends ZStateError {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly stderr: string
  // From ctx.map: the index of the item in flight in the workers that died.
  declare readonly index?: number
  constructor(message: string, fields: { exitCode: number | null; signal: string | null; stderr: string }) {
    super(ErrorCode.PROCESS_EXIT, message)
    this.exitCode = fields.exitCode
    this.signal = fields.signal
    this.stderr = fields.stderr
  }
  override get name(): string {
    return 'ProcessExitError'
  }
}

export function isZStateError(error: unknown): error is ZStateError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[brand] === true
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && codes.has(code)
}

// Rebuilds an error the server raised from its code, message and optional detail.
export function errorFromWire(
  code: unknown,
  message: unknown,
  detail: unknown,
  extra?: unknown,
): ZStateError {
  const text = typeof message === 'string' ? message : 'server error'
  if (!isErrorCode(code))
    return new ZStateError(ErrorCode.PROTOCOL, `server sent unknown error code: ${String(code)}`)
  if (code === ErrorCode.CONFLICT) {
    const keys = Array.isArray(detail) ? detail.filter((k): k is string => typeof k === 'string') : []
    return new ConflictError(text, keys, typeof extra === 'number' ? extra : 0)
  }
  if (code === ErrorCode.TIMEOUT) return new TimeoutError(text)
  if (code === ErrorCode.REMOTE && Array.isArray(detail)) {
    const [remoteName, stack, remoteCode, pid] = detail as unknown[]
    return new RemoteError(text, {
      remoteName: typeof remoteName === 'string' ? remoteName : 'Error',
      ...(typeof stack === 'string' ? { stack } : {}),
      ...(typeof remoteCode === 'string' ? { remoteCode } : {}),
      ...(typeof pid === 'number' ? { pid } : {}),
      // A thrown non-Error (remoteName 'NonError') carries what was thrown.
      ...(detail.length > 4 ? { value: detail[4] } : {}),
    })
  }
  return new ZStateError(code, text)
}

export function invalidArgument(message: string): ZStateError {
  return new ZStateError(ErrorCode.INVALID_ARGUMENT, message)
}
