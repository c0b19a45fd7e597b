// Node runs a timer set for more than 2^31 − 1 ms (about 24.8 days) after 1 ms, with only a warning,
// and AbortSignal.timeout() throws on Infinity. zstate arms no timer for a timeout beyond that limit
// (Infinity included): it waits without a limit. Delays that must end (retryDelay) stay within it.
export const MAX_TIMER_MS = 2 ** 31 - 1

export function hasLimit(ms: number): boolean {
  return ms <= MAX_TIMER_MS
}

// AbortSignal.timeout() for a caller's timeout: none beyond the limit, and a fraction rounded up
// (AbortSignal.timeout() throws on one, where setTimeout() takes it).
export function timeoutSignal(ms: number): AbortSignal | undefined {
  return hasLimit(ms) ? AbortSignal.timeout(Math.ceil(ms)) : undefined
}
