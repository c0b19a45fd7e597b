// Every error zstate originates: one class with a stable `code`, subclasses where callers need fields.

/** The stable `code` of every ZStateError (docs/errors.md lists when each is raised). */
export const ErrorCode = {
  /** A `timeout` option (or a default one) ran out. Class TimeoutError. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** Cancellation zstate started itself, e.g. `map` stopping its pool after a failure. */
  ABORTED: 'ERR_ABORTED',
  /** The client, context or subscription was closed while the call was pending or before it. */
  CLOSED: 'ERR_CLOSED',
  /** The server was lost while the request was in flight: its outcome is unknown (never retried). */
  DISCONNECTED: 'ERR_DISCONNECTED',
  /** `atomic` still conflicted after its retries. Class ConflictError. */
  CONFLICT: 'ERR_CONFLICT',
  /** The server's history no longer holds the revisions asked for (`watch({ fromRevision })`, a reset). */
  COMPACTED: 'ERR_COMPACTED',
  /**
   * An etcd gateway cannot reach an etcd quorum (docs/scale-out.md): the write was refused, nothing of
   * it applied; a write already sent when etcd stopped answering has an unknown outcome.
   */
  UNAVAILABLE: 'ERR_UNAVAILABLE',
  /**
   * A bounded queue is full: 10 000 unconsumed watch changes, a service's queued calls, or a client's
   * requests the server has not worked through yet.
   */
  OVERFLOW: 'ERR_OVERFLOW',
  /** A malformed frame or reply: a bug or a foreign peer. */
  PROTOCOL: 'ERR_PROTOCOL',
  /** A request larger than the server's `maxMessageBytes`. */
  TOO_LARGE: 'ERR_TOO_LARGE',
  /** A value outside the state's value model (undefined, functions, Map, cycles, …); nothing was sent. */
  UNENCODABLE: 'ERR_UNENCODABLE',
  /** A bad argument or option; the message names it, what was expected and what arrived. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** `call` to a service with no live provider. */
  NO_PROVIDER: 'ERR_NO_PROVIDER',
  /** The provider running a call died or went away before answering. */
  PROVIDER_LOST: 'ERR_PROVIDER_LOST',
  /** User code on the far side threw (a child, a service handler, an action). Class RemoteError. */
  REMOTE: 'ERR_REMOTE',
  /**
   * The server refused this client's CURVE handshake: its public key is not authorized, the server
   * key is wrong, or one side uses CURVE and the other does not.
   */
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  /** A child died without reporting a result. Class ProcessExitError. */
  PROCESS_EXIT: 'ERR_PROCESS_EXIT',
  /** Another live server owns the data dir (`dataDir`); the message names the dir and its pid. */
  LOCKED: 'ERR_LOCKED',
  /**
   * The data dir is damaged before its tail; the message names the file and offset. Starting with
   * `repair: true` cuts the log there.
   */
  CORRUPT: 'ERR_CORRUPT',
  /** The disk refused a write (full or failing); nothing of that write was applied. */
  STORAGE: 'ERR_STORAGE',
} as const
/** One of the `ErrorCode` strings. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

const codes = new Set<string>(Object.values(ErrorCode))
// A registered symbol, so the check works across duplicate installs of zstate.
const brand = Symbol.for('zstate.error')

/** Every error zstate itself originates; test with `isZStateError()` and switch on `code`. */
export class ZStateError extends Error {
  /** Stable across versions: what went wrong, for programs (the message is for people). */
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    Object.defineProperty(this, brand, { value: true })
  }
  /** `'ZStateError'`, or the subclass's name (`'TimeoutError'`, `'ConflictError'`, …). */
  override get name(): string {
    return 'ZStateError'
  }
  /**
   * `instanceof` also knows the errors of another copy of zstate in this process (a duplicate
   * install, or a worker thread's own): by the brand, and the class by its name.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    // A user's subclass without a name of its own: only its prototype chain counts.
    if (!isZStateError(value) || !Object.hasOwn(this.prototype, 'name')) return false
    const name = (this.prototype as Error).name
    for (
      let proto: unknown = Object.getPrototypeOf(value);
      proto !== null;
      proto = Object.getPrototypeOf(proto)
    )
      if (Object.hasOwn(proto as object, 'name') && (proto as Error).name === name) return true
    return false
  }
}

/** A `timeout` ran out (code ERR_TIMEOUT); never the DOMException of `AbortSignal.timeout`. */
export class TimeoutError extends ZStateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.TIMEOUT, message, options)
  }
  override get name(): string {
    return 'TimeoutError'
  }
}

/** `atomic` conflicted on every attempt (code ERR_CONFLICT). */
export class ConflictError extends ZStateError {
  /** The keys whose concurrent writes conflicted. */
  readonly keys: string[]
  /** The server's revision when it found the conflict: a retry waits until the replica has it. */
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

/**
 * User code on the far side threw: a child, a service handler or a server action (code
 * ERR_REMOTE). `message` is the remote message; `stack` the remote stack, then the local one.
 */
export class RemoteError extends ZStateError {
  /** The remote error's `name`; `'NonError'` when something other than an Error was thrown. */
  readonly remoteName: string
  /** The remote error's own `code`, if it had a string one. */
  readonly remoteCode: string | undefined
  /** The process id where it was thrown, when known. */
  readonly pid: number | undefined
  /** What was thrown, when it was not an Error (`remoteName === 'NonError'`); absent otherwise. */
  declare readonly value?: unknown
  /** The stack as it was on the far side, without the local frames. */
  readonly remoteStack: string | undefined
  /** From `ctx.map`: the index of the item that failed. */
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

/** A child died without reporting a result (code ERR_PROCESS_EXIT). */
export class ProcessExitError extends ZStateError {
  /** Its exit code; `null` when a signal ended it. */
  readonly exitCode: number | null
  /** The signal that ended it, e.g. `'SIGKILL'`; `null` when it exited. */
  readonly signal: string | null
  /** The last lines it wrote to stderr. */
  readonly stderr: string
  /** From `ctx.map`: the index of the item in flight in the worker that died. */
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

/** Whether `error` is a ZStateError; unlike `instanceof`, it works across duplicate installs of zstate. */
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
  if (code === ErrorCode.REMOTE && Array.isArray(detail)) return remoteFromWire(text, detail, 0)
  return new ZStateError(code, text)
}

// How deep a chain of causes crosses to another process (a child's error, an ERR_REMOTE reply).
export const MAX_CAUSES = 16

// [remoteName, stack, remoteCode, pid, value?, cause?] (lib/protocol/remote-detail.ts), the cause
// as [message, detail], followed MAX_CAUSES deep at most.
function remoteFromWire(message: string, detail: readonly unknown[], depth: number): RemoteError {
  const [remoteName, stack, remoteCode, pid, value, cause] = detail
  const name = typeof remoteName === 'string' ? remoteName : 'Error'
  const causeError =
    Array.isArray(cause) && typeof cause[0] === 'string' && Array.isArray(cause[1]) && depth < MAX_CAUSES
      ? remoteFromWire(cause[0], cause[1] as unknown[], depth + 1)
      : undefined
  return new RemoteError(
    message,
    {
      remoteName: name,
      ...(typeof stack === 'string' ? { stack } : {}),
      ...(typeof remoteCode === 'string' ? { remoteCode } : {}),
      ...(typeof pid === 'number' ? { pid } : {}),
      // A thrown non-Error carries what was thrown.
      ...(name === 'NonError' && detail.length > 4 ? { value } : {}),
    },
    causeError === undefined ? undefined : { cause: causeError },
  )
}

export function invalidArgument(message: string): ZStateError {
  return new ZStateError(ErrorCode.INVALID_ARGUMENT, message)
}
