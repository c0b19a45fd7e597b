import process from 'node:process'
import v8 from 'node:v8'

// Memory of the current process after a full collection, in MiB. Sides that report memory are forked
// with --expose-gc; without it the numbers include garbage and are labelled as such by the caller.
export interface Memory {
  readonly rssMiB: number
  // The V8 heap in use, and ArrayBuffer memory outside it (Buffers, typed arrays).
  readonly heapMiB: number
  readonly buffersMiB: number
  // The young generation's reserve. V8 grows it during a burst of allocation and gives it back only
  // once the process has been idle for a few seconds; until then RSS counts it. `youngFloorMiB`: its
  // size when the process started, the smallest it gets.
  readonly youngMiB: number
  readonly youngFloorMiB: number
}

function youngMiB(): number {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return (space?.space_size ?? 0) / 2 ** 20
}

const youngFloorMiB = youngMiB()

export function memoryNow(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage()
  return {
    rssMiB: rss / 2 ** 20,
    heapMiB: heapUsed / 2 ** 20,
    buffersMiB: arrayBuffers / 2 ** 20,
    youngMiB: youngMiB(),
    youngFloorMiB,
  }
}
