import { memoryNow } from '../support/memory.ts'
import { serveSide } from '../support/processes.ts'
import { itemOf, keyOf } from '../support/values.ts'

// Memory baseline: the same keys and values in a plain Map, in a fresh process of its own.
const map = new Map<string, unknown>()

serveSide({
  fill(count: number) {
    for (let i = 0; i < count; i++) map.set(keyOf(i), Object.freeze(itemOf(i)))
  },
  memory: () => memoryNow(),
})
