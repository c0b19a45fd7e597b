// The PROCESSES reply: every context the server knows, its children, and their resource use, as
// `zstate top` shows them. A plain object, so later versions can add fields.

export interface ProcessUsage {
  // % of one core since the previous sample (since the process started, on the first one).
  readonly cpu: number | null
  // Resident set size, bytes.
  readonly memory: number | null
  // ms since the process started.
  readonly elapsed: number | null
}

export interface ChildRow extends ProcessUsage {
  readonly name: string
  readonly pid: number
  // A worker thread in its parent's process: usage then describes that whole process.
  readonly threadId: number | null
  readonly status: string
  readonly attempts: number
}

export interface ContextRow extends ProcessUsage {
  readonly id: string
  readonly name: string
  // The process (and thread) that created the context: its owner.
  readonly pid: number
  readonly threadId: number | null
  // false when the owner runs on another host or pid namespace: its children are never reaped here.
  readonly local: boolean
  readonly children: readonly ChildRow[]
}

export interface ProcessTable {
  readonly server: { readonly pid: number } & ProcessUsage
  readonly revision: number
  readonly commitsPerSecond: number
  readonly uptime: number
  readonly clients: readonly { readonly name: string; readonly pid: number }[]
  readonly contexts: readonly ContextRow[]
}

// Child statuses as registered: terminal ones remove the row.
export const CHILD_STATUSES = ['starting', 'running', 'exited', 'failed'] as const
export type ChildStatus = (typeof CHILD_STATUSES)[number]

export function isProcessTable(value: unknown): value is ProcessTable {
  if (typeof value !== 'object' || value === null) return false
  const table = value as Record<string, unknown>
  return (
    typeof table['revision'] === 'number' &&
    typeof table['commitsPerSecond'] === 'number' &&
    Array.isArray(table['clients']) &&
    Array.isArray(table['contexts']) &&
    typeof table['server'] === 'object' &&
    table['server'] !== null
  )
}
