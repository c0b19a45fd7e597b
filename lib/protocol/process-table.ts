// The PROCESSES reply: every context the server knows, its children, and their resource use, as
// `zstate top` shows them. A plain object, so later versions can add fields. It is capped to fit one
// reply: `omitted` counts the rows left out.

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
  // false when the owner runs on another host or pid namespace: no figures for it or its children.
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
  // Rows the server left out to keep the reply within its message budget.
  readonly omitted: { readonly clients: number; readonly contexts: number; readonly children: number }
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
    table['server'] !== null &&
    isOmitted(table['omitted'])
  )
}

function isOmitted(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const omitted = value as Record<string, unknown>
  return ['clients', 'contexts', 'children'].every((kind) => typeof omitted[kind] === 'number')
}
