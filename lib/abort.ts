// Cancellation by AbortSignal (STYLE.md "Async shape"): a wait ends with signal.reason, unchanged, and
// leaves no listener or timer behind; a promise that never settles is not a cancellation mechanism.
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from './errors.ts'
import { timeoutSignal } from './timer-limit.ts'

// Settles as `promise` does, or rejects with signal.reason as soon as `signal` aborts.
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

// Resolves after `ms`, or rejects with signal.reason. Unless `ref`, the timer does not keep the process
// alive on its own.
export async function pause(ms: number, signal: AbortSignal, ref = false): Promise<void> {
  try {
    await sleep(ms, undefined, { signal, ref })
  } catch (error) {
    // timers/promises rejects with an AbortError wrapping the reason: callers get the reason itself.
    signal.throwIfAborted()
    throw error
  }
}

// AbortSignal.timeout() aborts with a DOMException: where that timeout caused `error`, callers get our
// TimeoutError instead, without the DOMException as its cause; any other error passes through.
export function timeoutToError(error: unknown, timeout: AbortSignal | undefined, message: string): unknown {
  return timeout?.aborted === true && error === timeout.reason ? new TimeoutError(message) : error
}

// Each composite of anyWithTimeout() → its timeout signal, held as long as the composite is.
const timeouts = new WeakMap<AbortSignal, AbortSignal>()

// AbortSignal.any([signal, AbortSignal.timeout(ms)]), its timeout kept alive with it: Node 20's
// AbortSignal.any() holds its sources weakly, and a timeout signal that nothing else holds is
// collected before it fires (a join attempt at a dead address then never ended).
export function anyWithTimeout(signal: AbortSignal, ms: number): AbortSignal {
  const expiry = timeoutSignal(ms)
  if (expiry === undefined) return signal
  const combined = AbortSignal.any([signal, expiry])
  timeouts.set(combined, expiry)
  return combined
}
