// What the demo's processes share: the state's shape, task keys, and a digest of a replica.
import { createHash } from 'node:crypto'
import { stringify } from './json.ts'

export interface Task {
  readonly by: string
  readonly progress: number
  readonly done: boolean
}

export interface DemoState {
  go?: boolean
  next?: number
  done?: number
  finished?: boolean
  chunks?: number
  [key: `ready:${string}`]: number
  [key: `milestone:${string}`]: number
  [key: `mapper:${string}`]: boolean
  [task: `task:${string}`]: Task
}

export type Role = 'writer' | 'watcher'

export interface WriterResult {
  readonly tasks: readonly number[]
}

export interface WatcherResult {
  readonly changes: number
  readonly ordered: boolean
  readonly revision: number
  readonly digest: string
}

export function taskKey(n: number): `task:${string}` {
  return `task:${String(n).padStart(2, '0')}`
}

// Equal digests mean equal replicas: every key and value, in key order.
export function digest(entries: Iterable<readonly [string, unknown]>): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const hash = createHash('sha256')
  for (const [key, value] of sorted) hash.update(`${JSON.stringify(key)}=${stringify(value)}\n`)
  return hash.digest('hex').slice(0, 12)
}
