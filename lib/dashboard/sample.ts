// One reading of the server for the page, once a second: what `zstate top` shows (processTable)
// and what STATS counts (serverStats), with calls/s and messages/s derived from the previous reading.
import { serverStats } from '../client/server-stats.ts'
import { processTable } from '../process/table.ts'
import type { ServerStats } from '../protocol/server-stats.ts'

/** CPU (% of one core) and resident memory (bytes) of one process; null where not measured. */
export interface Usage {
  readonly cpu: number | null
  readonly memory: number | null
}

export interface ProcessSample extends Usage {
  readonly name: string
  readonly pid: number
  readonly status: string
}

export interface ContextSample extends ProcessSample {
  readonly id: string
  readonly children: readonly ProcessSample[]
}

export interface ServiceSample {
  readonly name: string
  readonly providers: number
  readonly methods: readonly string[]
  readonly callsPerSecond: number
  readonly failed: number
  readonly queued: number
  readonly inFlight: number
}

export interface TopicSample {
  readonly topic: string
  readonly messages: number
  readonly messagesPerSecond: number
  readonly lastPublished: number
}

export interface Sample {
  /** ms since the epoch, this process's clock. */
  readonly time: number
  readonly revision: number
  readonly commitsPerSecond: number
  readonly clients: number
  readonly server: ProcessSample
  readonly contexts: readonly ContextSample[]
  /** null when the server could not say (an older server without STATS): see `statsError`. */
  readonly services: readonly ServiceSample[] | null
  readonly topics: readonly TopicSample[] | null
  readonly statsError: string | null
  /** What keeps the server from working though it answers (etcd down on a gateway); the page's status line. */
  readonly problem: string | null
}

// The topics the page lists, most recently published first.
const MAX_TOPICS = 50

export interface Reading {
  readonly sample: Sample
  readonly stats: ServerStats | undefined
}

// Takes one reading; `previous` (the last reading) turns counters into rates.
export async function takeSample(client: unknown, previous: Reading | undefined): Promise<Reading> {
  const [table, stats] = await Promise.all([
    processTable(client),
    serverStats(client).then(
      (value) => ({ value, error: null }),
      (error: unknown) => ({
        value: undefined,
        error: error instanceof Error ? error.message : String(error),
      }),
    ),
  ])
  const time = Date.now()
  const seconds = previous === undefined ? 0 : (time - previous.sample.time) / 1000
  const before = previous?.stats
  // A counter's growth per second; 0 on the first reading or after a server restart.
  const rate = (now: number, then: number | undefined): number =>
    seconds > 0 && then !== undefined && now >= then ? (now - then) / seconds : 0
  const sample: Sample = {
    time,
    revision: table.revision,
    commitsPerSecond: table.commitsPerSecond,
    clients: table.clients.length + table.omitted.clients,
    server: { name: 'server', pid: table.server.pid, status: 'running', ...usage(table.server) },
    contexts: table.contexts.map((context) => ({
      id: context.id,
      name: context.name,
      pid: context.pid,
      status: context.status,
      ...usage(context),
      children: context.children.map((child) => ({
        name: child.name,
        pid: child.pid,
        status: child.status,
        ...usage(child),
      })),
    })),
    services:
      stats.value?.services.map((service) => ({
        name: service.name,
        providers: service.providers,
        methods: service.methods,
        callsPerSecond: rate(service.calls, before?.services.find((s) => s.name === service.name)?.calls),
        failed: service.failed,
        queued: service.queued,
        inFlight: service.inFlight,
      })) ?? null,
    topics:
      stats.value?.topics.slice(0, MAX_TOPICS).map((topic) => ({
        topic: topic.topic,
        messages: topic.messages,
        messagesPerSecond: rate(
          topic.messages,
          before?.topics.find((t) => t.topic === topic.topic)?.messages,
        ),
        lastPublished: topic.lastPublished,
      })) ?? null,
    statsError: stats.error,
    problem:
      stats.value?.etcd?.up === false
        ? 'etcd does not answer this gateway: writes are refused (ERR_UNAVAILABLE)'
        : null,
  }
  return { sample, stats: stats.value }
}

function usage(row: Usage): Usage {
  return { cpu: row.cpu, memory: row.memory }
}
