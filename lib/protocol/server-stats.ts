// The STATS reply: the server's counters, services and topics, for the dashboard and /metrics. A plain
// object, so later versions can add fields. Counters count since the server process started.
import { isRecord } from './frames.ts'

/** One service with at least one provider. */
export interface ServiceStats {
  readonly name: string
  /** Live providers. */
  readonly providers: number
  readonly methods: readonly string[]
  /** Calls made to it, refused ones included. */
  readonly calls: number
  /** Calls that got no result: an error (thrown, timed out, provider lost, queue full), given up on, caller gone. */
  readonly failed: number
  /** Calls waiting for a free provider now. */
  readonly queued: number
  /** Calls at a provider now. */
  readonly inFlight: number
}

/** One topic something was published on. */
export interface TopicStats {
  readonly topic: string
  /** Messages published on it. */
  readonly messages: number
  /** Their encoded bytes. */
  readonly bytes: number
  /** When the last one was published (ms since the epoch, server clock). */
  readonly lastPublished: number
}

/** What a durable server (dataDir) did with its log; null without a data dir. */
export interface StorageStats {
  readonly fsync: 'always' | 'interval' | 'never'
  /** fsyncs of the log. */
  readonly fsyncs: number
  /** Their total duration, seconds. */
  readonly fsyncSeconds: number
}

/** An etcd gateway's link to etcd (docs/scale-out.md); null on a server that holds its own state. */
export interface EtcdStats {
  /**
   * Whether etcd answers this gateway: false from the moment it counts etcd as down (no quorum, no
   * member reachable, or a write's fence not taken) until a request that needs a quorum succeeds
   * again; meanwhile writes are refused ERR_UNAVAILABLE.
   */
  readonly up: boolean
  /** Writes of this gateway's clients answered ERR_UNAVAILABLE. */
  readonly unavailableWrites: number
  /** Requests of this gateway to an etcd member that got no answer (unreachable, or past their deadline). */
  readonly failedRequests: number
}

export interface ServerStats {
  readonly pid: number
  /** ms since the server started. */
  readonly uptime: number
  readonly epoch: string
  readonly revision: number
  /** Commits since the server process started. */
  readonly commits: number
  /** Live sessions: full replicas and partial ones (connect's `replicate`). */
  readonly sessions: { readonly full: number; readonly partial: number }
  /** Request frames received and reply frames sent on the ROUTER, with their bytes. */
  readonly messagesIn: number
  readonly bytesIn: number
  readonly messagesOut: number
  readonly bytesOut: number
  /** The encoded bytes of those commits (each is published once on the change stream). */
  readonly commitBytes: number
  /** Request frames refused unread (over budget or malformed). */
  readonly droppedFrames: number
  /** History fetches served, each once however many pages; clients that fell behind it and took a snapshot. */
  readonly gapRepairs: number
  readonly resyncs: number
  /** Transactions refused with ERR_CONFLICT, or granted their turn after a conflict. */
  readonly conflicts: number
  /**
   * Turns on contended keys (docs/transactions.md): transactions waiting for theirs now, turns
   * granted, and granted turns that lapsed unused.
   */
  readonly turns: { readonly waiting: number; readonly granted: number; readonly lapsed: number }
  /** The history ring kept for gap repair and watch({ fromRevision }). */
  readonly history: { readonly revisions: number; readonly bytes: number }
  /** Services with a provider, by name. */
  readonly services: readonly ServiceStats[]
  /** Topics, most recently published first; the server tracks at most MAX_TRACKED_TOPICS. */
  readonly topics: readonly TopicStats[]
  readonly storage: StorageStats | null
  /** Absent from servers older than this field. */
  readonly etcd?: EtcdStats | null
}

/** Topics the server keeps counters for: the least recently published one is forgotten beyond. */
export const MAX_TRACKED_TOPICS = 256

export function isServerStats(value: unknown): value is ServerStats {
  return (
    isRecord(value) &&
    typeof value['revision'] === 'number' &&
    typeof value['commits'] === 'number' &&
    isRecord(value['sessions']) &&
    isRecord(value['history']) &&
    isRecord(value['turns']) &&
    Array.isArray(value['services']) &&
    Array.isArray(value['topics'])
  )
}
