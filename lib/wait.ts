// The one place that turns { timeout, signal } into a rejection: TimeoutError or signal.reason, unchanged.
import { TimeoutError, invalidArgument } from './errors.ts'

export interface WaitOptions {
  timeout?: number | undefined
  signal?: AbortSignal | undefined
}

export function checkWaitOptions(options: WaitOptions | undefined, what: string): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`${what}: options must be an object`)
  const { timeout, signal } = options
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw invalidArgument(`${what}: timeout must be a non-negative number of ms, got ${String(timeout)}`)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`${what}: signal must be an AbortSignal`)
  }
}

// Arms timeout and signal for one wait; `cancel` rejects it. Returns the disarm function.
export function armWait(
  options: WaitOptions | undefined,
  what: string,
  cancel: (error: unknown) => void,
): () => void {
  const signal = options?.signal
  const timeout = options?.timeout
  if (signal?.aborted) {
    cancel(signal.reason)
    return () => {}
  }
  const onAbort = (): void => cancel(signal!.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  const timer =
    timeout === undefined
      ? undefined
      : setTimeout(() => cancel(new TimeoutError(`${what} timed out after ${timeout} ms`)), timeout)
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
