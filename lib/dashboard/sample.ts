// One reading of the server for the page, once a second: what `zstate top` shows (processTable)
// and what STATS counts (serverStats), with calls/s and messages/s derived from the previous reading.
// A reading is bounded whatever the server holds: the busiest services, the newest topics and the
// first processes are listed, the rest counted.
import { serverStats } from '../client/server-stats.ts'
import { processTable } from '../process/table.ts'
import type { ProcessTable } from '../protocol/process-table.ts'

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

/** Contexts and children not listed: the server left them out of its table, or the reading did. */
export interface OmittedProcesses {
  readonly contexts: number
  readonly children: number
}

export interface ServiceSample {
  readonly name: string
  readonly providers: number
  /** The first MAX_METHODS of its methods; `methodCount` counts them all. */
  readonly methods: readonly string[]
  readonly methodCount: number
  readonly callsPerSecond: number
  readonly failed: number
  readonly queued: number
  readonly inFlight: number
}

/** The services beyond the MAX_SERVICES busiest: how many, and their figures summed. */
export interface OtherServices {
  readonly count: number
  readonly providers: number
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
  /** The first MAX_PROCESSES rows (contexts and children) of the server's table. */
  readonly contexts: readonly ContextSample[]
  readonly omitted: OmittedProcesses
  /**
   * The MAX_SERVICES busiest (calls/s, then calls), busiest first; null when the server could not
   * say (an older server without STATS): see `statsError`.
   */
  readonly services: readonly ServiceSample[] | null
  readonly otherServices: OtherServices | null
  readonly topics: readonly TopicSample[] | null
  readonly statsError: string | null
  /** What keeps the server from working though it answers (etcd down on a gateway); the page's status line. */
  readonly problem: string | null
}

// The topics the page lists, most recently published first.
const MAX_TOPICS = 50
/** Services a reading lists (STATS lists every one with a provider, up to 16,384). */
export const MAX_SERVICES = 50
/** Method names a reading lists per service (a provider may name 64 KiB of them). */
export const MAX_METHODS = 16
/** Rows (contexts and children) a reading lists: the server's table may hold megabytes. */
export const MAX_PROCESSES = 200

export interface Reading {
  readonly sample: Sample
  // The counters of the reading, by name: the next reading's rates, without a search per row.
  readonly calls: ReadonlyMap<string, number>
  readonly messages: ReadonlyMap<string, number>
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
  // A counter's growth per second; 0 on the first reading or after a server restart.
  const rate = (now: number, then: number | undefined): number =>
    seconds > 0 && then !== undefined && now >= then ? (now - then) / seconds : 0
  const calls = new Map(stats.value?.services.map((service) => [service.name, service.calls]))
  const messages = new Map(stats.value?.topics.map((topic) => [topic.topic, topic.messages]))
  const services = stats.value?.services.map((service) => ({
    name: service.name,
    providers: service.providers,
    methods: service.methods.slice(0, MAX_METHODS),
    methodCount: service.methods.length,
    callsPerSecond: rate(service.calls, previous?.calls.get(service.name)),
    calls: service.calls,
    failed: service.failed,
    queued: service.queued,
    inFlight: service.inFlight,
  }))
  services?.sort((a, b) => b.callsPerSecond - a.callsPerSecond || b.calls - a.calls)
  const { contexts, omitted } = listed(table.contexts, table.omitted)
  const sample: Sample = {
    time,
    revision: table.revision,
    commitsPerSecond: table.commitsPerSecond,
    clients: table.clients.length + table.omitted.clients,
    server: { name: 'server', pid: table.server.pid, status: 'running', ...usage(table.server) },
    contexts,
    omitted,
    services: services?.slice(0, MAX_SERVICES).map(({ calls: _, ...service }) => service) ?? null,
    otherServices: services === undefined ? null : others(services.slice(MAX_SERVICES)),
    topics:
      stats.value?.topics.slice(0, MAX_TOPICS).map((topic) => ({
        topic: topic.topic,
        messages: topic.messages,
        messagesPerSecond: rate(topic.messages, previous?.messages.get(topic.topic)),
        lastPublished: topic.lastPublished,
      })) ?? null,
    statsError: stats.error,
    problem:
      stats.value?.etcd?.up === false
        ? 'etcd does not answer this gateway: writes are refused (ERR_UNAVAILABLE)'
        : null,
  }
  return { sample, calls, messages }
}

// The table's contexts and children, in order, up to MAX_PROCESSES rows; the rest counted.
function listed(
  table: ProcessTable['contexts'],
  omittedByServer: ProcessTable['omitted'],
): { contexts: ContextSample[]; omitted: OmittedProcesses } {
  let left = MAX_PROCESSES
  const omitted = { contexts: omittedByServer.contexts, children: omittedByServer.children }
  const contexts: ContextSample[] = []
  for (const context of table) {
    if (left === 0) {
      omitted.contexts++
      omitted.children += context.children.length
      continue
    }
    left--
    const children = context.children.slice(0, left)
    left -= children.length
    omitted.children += context.children.length - children.length
    contexts.push({
      id: context.id,
      name: context.name,
      pid: context.pid,
      status: context.status,
      ...usage(context),
      children: children.map((child) => ({
        name: child.name,
        pid: child.pid,
        status: child.status,
        ...usage(child),
      })),
    })
  }
  return { contexts, omitted }
}

function others(rest: readonly Omit<ServiceSample, 'name' | 'methods' | 'methodCount'>[]): OtherServices {
  const sum = (pick: (service: (typeof rest)[number]) => number): number =>
    rest.reduce((total, service) => total + pick(service), 0)
  return {
    count: rest.length,
    providers: sum((s) => s.providers),
    callsPerSecond: sum((s) => s.callsPerSecond),
    failed: sum((s) => s.failed),
    queued: sum((s) => s.queued),
    inFlight: sum((s) => s.inFlight),
  }
}

function usage(row: Usage): Usage {
  return { cpu: row.cpu, memory: row.memory }
}
