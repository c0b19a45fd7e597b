// The one place that turns { timeout, signal } into a rejection: TimeoutError or signal.reason, unchanged.
import { TimeoutError, invalidArgument } from './errors.ts'
import { checkKnown } from './known-options.ts'
import { hasLimit } from './timer-limit.ts'
import { shown } from './protocol/values.ts'

export interface WaitOptions {
  timeout?: number | undefined
  signal?: AbortSignal | undefined
}

// The names a wait takes; a call with more of its own passes its whole list (a constant).
export const WAIT_OPTIONS: readonly string[] = ['timeout', 'signal']

// Checks timeout and signal, and that no option outside `known` is given (the others are the caller's
// to check): a misspelt option is refused rather than ignored.
export function checkWaitOptions(
  options: WaitOptions | undefined,
  what: string,
  known: readonly string[] = WAIT_OPTIONS,
): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`${what}: options must be an object`)
  checkKnown(options, known, what)
  const { timeout, signal } = options
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw invalidArgument(`${what}: timeout must be a non-negative number of ms, got ${shown(timeout)}`)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`${what}: signal must be an AbortSignal`)
  }
}

// Why the server the client tries to rejoin refuses it (lib/link/current.ts), read as a wait times out;
// undefined: it is connected, or not refused.
export type Refusal = () => Error | undefined

// The public function a caller called. A timed wait that names it captures the caller's frames when
// it starts, for its TimeoutError: the timer that fires later has none of them on its stack.
export type Caller = (...args: never[]) => unknown

// Arms timeout and signal for one wait; `cancel` rejects it. Returns the disarm function. A wait for
// a request names `refusal` when it times out.
export function armWait(
  options: WaitOptions | undefined,
  what: string,
  cancel: (error: unknown) => void,
  caller?: Caller,
  refusal?: Refusal,
): () => void {
  const signal = options?.signal
  const timeout = options?.timeout
  if (signal?.aborted) {
    cancel(signal.reason)
    return () => {}
  }
  const onAbort = (): void => cancel(signal!.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  let timer: NodeJS.Timeout | undefined
  if (timeout !== undefined && hasLimit(timeout)) {
    // Only timed waits pay for a stack (microseconds), and only those that ask.
    const site: { stack?: string } = {}
    if (caller !== undefined) Error.captureStackTrace(site, caller)
    timer = setTimeout(() => {
      const refused = refusal?.()
      const message = `${what} timed out after ${timeout} ms${refused === undefined ? '' : ' while reconnecting'}`
      cancel(timedOut(timeoutError(message, refused), site.stack))
    }, timeout)
  }
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

// Whether `options` bound a wait at all: without a timeout or a signal the caller's own promise is
// returned as it is, allocating nothing.
export function unbounded(options: WaitOptions | undefined): boolean {
  return options?.timeout === undefined && options?.signal === undefined
}

// `promise`, or the rejection of `options` first: its timeout or its signal's reason. What the promise
// stands for goes on; only the waiting ends.
export function bounded<T>(
  promise: Promise<T>,
  options: WaitOptions | undefined,
  what: string,
  caller?: Caller,
  refusal?: Refusal,
): Promise<T> {
  return unbounded(options) ? promise : settleWithin(options, what, caller, refusal, undefined, () => promise)
}

// bounded() of a request that can still be withdrawn: `send` gets a signal that aborts, with the
// caller's reason, when the caller gives up first. A caller that gave up already sends nothing.
export function boundedRequest<T>(
  send: (giveUp?: AbortSignal) => Promise<T>,
  options: WaitOptions | undefined,
  what: string,
  refusal?: Refusal,
): Promise<T> {
  if (unbounded(options)) return send()
  const giveUp = new AbortController()
  return settleWithin(
    options,
    what,
    undefined,
    refusal,
    (error) => giveUp.abort(error),
    () => (giveUp.signal.aborted ? Promise.reject(giveUp.signal.reason) : send(giveUp.signal)),
  )
}

// What `start` resolves to, unless the wait ends first (then `givenUp` hears why). `start` runs once
// the wait is armed, so it sees a signal aborted before the call.
function settleWithin<T>(
  options: WaitOptions | undefined,
  what: string,
  caller: Caller | undefined,
  refusal: Refusal | undefined,
  givenUp: ((error: unknown) => void) | undefined,
  start: () => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const disarm = armWait(
      options,
      what,
      (error) => {
        givenUp?.(error)
        reject(error)
      },
      caller,
      refusal,
    )
    start().then(
      (value) => {
        disarm()
        resolve(value)
      },
      (error: unknown) => {
        disarm()
        reject(error)
      },
    )
  })
}

// A request's TimeoutError, the one place for all of them: while the client is refused (`refused`:
// its key, its protocol version) the message names the refusal, which is also the cause, for a
// program to tell a refused client from a server that is only slow to come back (docs/errors.md).
export function timeoutError(message: string, refused: Error | undefined): TimeoutError {
  if (refused === undefined) return new TimeoutError(message)
  return new TimeoutError(`${message} (${refused.message})`, { cause: refused })
}

// `error` showing the frames of `stack` (captured when the wait started), when it has any.
function timedOut(error: TimeoutError, stack: string | undefined): TimeoutError {
  const frames = stack?.indexOf('\n') ?? -1
  if (frames !== -1) error.stack = `${error.name}: ${error.message}${stack!.slice(frames)}`
  return error
}
