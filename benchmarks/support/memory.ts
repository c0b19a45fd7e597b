import process from 'node:process'

// Memory of the current process after a full collection, in MiB. Sides that report memory are forked
// with --expose-gc; without it the numbers include garbage and are labelled as such by the caller.
export interface Memory {
  readonly rssMiB: number
  readonly heapMiB: number
}

export function memoryNow(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  return { rssMiB: rss / 2 ** 20, heapMiB: heapUsed / 2 ** 20 }
}
