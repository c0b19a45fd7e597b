// The when… family: a condition checked now and then on every revision that writes its keys.
import { invalidArgument } from '../errors.ts'
import { WAIT_OPTIONS, checkWaitOptions, armWait } from '../wait.ts'
import type { Waiter } from './observers.ts'
import type { Change } from './replica.ts'
import type { WhenOptions } from './state-types.ts'
import type { Synchronizer } from './sync.ts'

// The names the when family takes.
const WHEN_OPTIONS = [...WAIT_OPTIONS, 'changed']

export type { WhenOptions } from './state-types.ts'

// What a waiter looks at on each revision: undefined means "not yet", otherwise the result.
type Check<T> = (change: Change | undefined) => { value: T } | undefined

// How errors name a waiter: `whenEqual('k')`, `whenChange(['a', 'b'])`.
export function waiterName(method: string, keys: string | readonly string[]): string {
  const quote = (key: string): string => `'${key}'`
  return `${method}(${typeof keys === 'string' ? quote(keys) : `[${keys.map(quote).join(', ')}]`})`
}

// `what` names the call in errors; a timeout's stack starts at the caller of waitFor.
export function waitFor<T>(
  sync: Synchronizer,
  target: { keys: readonly string[] } | { prefix: string },
  check: Check<T>,
  options: WhenOptions | undefined,
  what: string,
  checkNow: boolean,
): Promise<T> {
  try {
    checkWaitOptions(options, what, WHEN_OPTIONS)
    if (options?.signal?.aborted === true) return Promise.reject(options.signal.reason)
    if (options?.changed !== undefined && typeof options.changed !== 'boolean')
      throw invalidArgument(`${what}: changed must be a boolean`)
    const closed = sync.observers.closed
    if (closed !== undefined) return Promise.reject(closed.error)
    if (checkNow && options?.changed !== true) {
      const now = check(undefined)
      if (now !== undefined) return Promise.resolve(now.value)
    }
  } catch (error) {
    return Promise.reject(error)
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false
    let disarm: () => void = () => {}
    const finish = (outcome: () => void): void => {
      if (settled) return
      settled = true
      sync.observers.removeWaiter(waiter)
      disarm()
      outcome()
    }
    const evaluate = (change: Change | undefined): void => {
      let result: { value: T } | undefined
      try {
        result = check(change)
      } catch (error) {
        return finish(() => reject(error))
      }
      if (result !== undefined) finish(() => resolve(result.value))
    }
    const waiter: Waiter = {
      keys: 'keys' in target ? target.keys : undefined,
      prefix: 'prefix' in target ? target.prefix : undefined,
      onRevision: (_revision, change) => evaluate(change),
      onReset: () => evaluate(undefined),
      fail: (error) => finish(() => reject(error)),
    }
    disarm = armWait(options, what, (error) => finish(() => reject(error)), waitFor)
    if (!settled) sync.observers.addWaiter(waiter)
  })
}
