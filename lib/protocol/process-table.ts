// The PROCESSES reply: every context the server knows, its children, and their resource use, as
// `zstate top` shows them. A plain object, so later versions can add fields. It is capped to fit one
// reply: `omitted` counts the rows left out.
import { isRecord } from './frames.ts'

/** Resource use of one process, as `zstate top` shows it; `null` where it could not be measured. */
export interface ProcessUsage {
  /** % of one core since the previous sample (since the process started, on the first one). */
  readonly cpu: number | null
  /** Resident set size, bytes. */
  readonly memory: number | null
  /** ms since the process started. */
  readonly elapsed: number | null
}

/** One child of a context in the process table. */
export interface ChildRow extends ProcessUsage {
  /** The child's name, as its handle shows it. */
  readonly name: string
  /** Its process id (a thread: its parent's). */
  readonly pid: number
  /** A worker thread in its parent's process: usage then describes that whole process. */
  readonly threadId: number | null
  /**
   * Where it is in its life: `starting` or `running` as its owner registered it, or `silent`: running,
   * but its own client (the session with its pid and name) has sent nothing for 4 heartbeat periods
   * (2 s by default): stopped (SIGSTOP, a debugger), its event loop blocked, or gone without its
   * owner noticing.
   */
  readonly status: ListedStatus
  /** Attempts started so far. */
  readonly attempts: number
}

/** One context in the process table. */
export interface ContextRow extends ProcessUsage {
  /** The server's id for the context. */
  readonly id: string
  /** The context's name. */
  readonly name: string
  /** The process that created the context: its owner. */
  readonly pid: number
  /** The owner's thread id, when a worker thread created it. */
  readonly threadId: number | null
  /** false when the owner runs on another host or pid namespace: no figures for it or its children. */
  readonly local: boolean
  /** `silent` when the owner's own session has sent nothing for 4 heartbeat periods (2 s by default). */
  readonly status: 'running' | 'silent'
  /** Its live children. */
  readonly children: readonly ChildRow[]
}

/** Every context the server knows, its children and their resource use, as `zstate top` shows them. */
export interface ProcessTable {
  /** The server process. */
  readonly server: { readonly pid: number } & ProcessUsage
  /** The server's current revision. */
  readonly revision: number
  /** Commits per second, recently. */
  readonly commitsPerSecond: number
  /** ms since the server started. */
  readonly uptime: number
  /** The connected clients. */
  readonly clients: readonly { readonly name: string; readonly pid: number }[]
  /** The contexts, with their children. */
  readonly contexts: readonly ContextRow[]
  /** Rows the server left out to keep the reply within its message budget. */
  readonly omitted: { readonly clients: number; readonly contexts: number; readonly children: number }
}

// Child statuses as registered: terminal ones remove the row.
export const CHILD_STATUSES = ['starting', 'running', 'exited', 'failed'] as const
export type ChildStatus = (typeof CHILD_STATUSES)[number]
/** A child's status in the process table: as registered, or `silent` (see ChildRow.status). */
export type ListedStatus = 'starting' | 'running' | 'silent'

export function isProcessTable(value: unknown): value is ProcessTable {
  return (
    isRecord(value) &&
    typeof value['revision'] === 'number' &&
    typeof value['commitsPerSecond'] === 'number' &&
    Array.isArray(value['clients']) &&
    Array.isArray(value['contexts']) &&
    isRecord(value['server']) &&
    isOmitted(value['omitted'])
  )
}

function isOmitted(value: unknown): boolean {
  return (
    isRecord(value) && ['clients', 'contexts', 'children'].every((kind) => typeof value[kind] === 'number')
  )
}
