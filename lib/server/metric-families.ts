// The zstate_ metric families of the /metrics endpoint (lib/server/metrics.ts): each sets its
// values from the current scrape when prom-client collects it. Counters take the server's absolute
// counts (reset, then increased by the count), so they export as `# TYPE … counter`.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { ProcessTable, ProcessUsage } from '../protocol/process-table.ts'
import type { ServerStats } from '../protocol/server-stats.ts'

// What one scrape reads: the server's STATS and its process table.
export interface Scrape {
  readonly stats: ServerStats
  readonly table: ProcessTable
}

type Read = () => Scrape | undefined

// Every zstate_ metric, each setting its values from the current scrape when collected. Labelled
// ones start empty each time: a service, topic or process that is gone leaves the output. `durable`
// (a data dir) and `gateway` (an etcd gateway) add the families only such a server has.
export function defineMetrics(
  register: Registry,
  read: Read,
  { durable, gateway }: { durable: boolean; gateway: boolean },
): void {
  const registers = [register]
  const gauge = (name: string, help: string, value: (scrape: Scrape) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const scrape = read()
        if (scrape !== undefined) this.set(value(scrape))
      },
    })
  }
  const counter = (name: string, help: string, value: (scrape: Scrape) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        const scrape = read()
        this.reset()
        if (scrape !== undefined) this.inc(value(scrape))
      },
    })
  }
  const labelled = <L extends string, Row>(
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: readonly L[],
    rows: (scrape: Scrape) => Iterable<Row>,
    sample: (row: Row) => [Record<L, string>, number] | undefined,
  ): void => {
    const figures = function* (): Generator<[Record<L, string>, number]> {
      const scrape = read()
      if (scrape === undefined) return
      for (const row of rows(scrape)) {
        const figure = sample(row)
        if (figure !== undefined) yield figure
      }
    }
    const config = { name, help, labelNames, registers }
    if (kind === 'gauge')
      new Gauge<L>({
        ...config,
        collect() {
          this.reset()
          for (const [labels, value] of figures()) this.set(labels, value)
        },
      })
    else
      new Counter<L>({
        ...config,
        collect() {
          this.reset()
          for (const [labels, value] of figures()) this.inc(labels, value)
        },
      })
  }

  gauge('zstate_uptime_seconds', 'Seconds since the server started.', (s) => s.stats.uptime / 1000)
  gauge('zstate_revision', 'The last committed revision.', (s) => s.stats.revision)
  counter('zstate_commits_total', 'Commits since the server process started.', (s) => s.stats.commits)
  gauge(
    'zstate_clients',
    'Connected clients (sessions).',
    (s) => s.table.clients.length + s.table.omitted.clients,
  )
  labelled(
    'gauge',
    'zstate_sessions',
    'Live sessions, by replica: full, or partial (connect({ replicate })).',
    ['replica'],
    (s) => Object.entries(s.stats.sessions),
    ([replica, count]) => [{ replica }, count],
  )
  counter('zstate_received_messages_total', 'Request frames received.', (s) => s.stats.messagesIn)
  counter('zstate_received_bytes_total', 'Bytes of the request frames received.', (s) => s.stats.bytesIn)
  counter('zstate_sent_messages_total', 'Reply frames sent.', (s) => s.stats.messagesOut)
  counter('zstate_sent_bytes_total', 'Bytes of the reply frames sent.', (s) => s.stats.bytesOut)
  counter(
    'zstate_published_bytes_total',
    'Bytes of the commits published on the change stream (each commit once).',
    (s) => s.stats.commitBytes,
  )
  counter(
    'zstate_dropped_frames_total',
    'Request frames refused unread (over budget or malformed).',
    (s) => s.stats.droppedFrames,
  )
  counter('zstate_gap_repairs_total', 'History fetches served.', (s) => s.stats.gapRepairs)
  counter('zstate_resyncs_total', 'Clients that fell behind and took a snapshot.', (s) => s.stats.resyncs)
  counter(
    'zstate_conflicts_total',
    'Transactions refused with ERR_CONFLICT, or granted their turn after a conflict.',
    (s) => s.stats.conflicts,
  )
  gauge(
    'zstate_turns_waiting',
    'Transactions waiting their turn on contended keys.',
    (s) => s.stats.turns.waiting,
  )
  counter('zstate_turns_granted_total', 'Turns on contended keys granted.', (s) => s.stats.turns.granted)
  counter(
    'zstate_turns_lapsed_total',
    'Turns on contended keys that lapsed unused.',
    (s) => s.stats.turns.lapsed,
  )
  gauge(
    'zstate_history_revisions',
    'Commits kept in the history for gap repair.',
    (s) => s.stats.history.revisions,
  )
  gauge('zstate_history_bytes', 'Bytes of the commits kept in the history.', (s) => s.stats.history.bytes)

  const services = (s: Scrape): ServerStats['services'] => s.stats.services
  const perService = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    value: (service: ServerStats['services'][number]) => number,
  ): void => labelled(kind, name, help, ['service'], services, (row) => [{ service: row.name }, value(row)])
  perService('gauge', 'zstate_service_providers', 'Live providers of the service.', (s) => s.providers)
  perService('counter', 'zstate_service_calls_total', 'Calls accepted for the service.', (s) => s.calls)
  perService(
    'counter',
    'zstate_service_failed_calls_total',
    'Calls of the service that got no result (an error, given up on, caller gone).',
    (s) => s.failed,
  )
  perService('gauge', 'zstate_service_queued_calls', 'Calls waiting for a free provider.', (s) => s.queued)
  perService('gauge', 'zstate_service_in_flight_calls', 'Calls at a provider now.', (s) => s.inFlight)

  const topics = (s: Scrape): ServerStats['topics'] => s.stats.topics
  labelled(
    'counter',
    'zstate_topic_messages_total',
    'Messages published on the topic.',
    ['topic'],
    topics,
    (row) => [{ topic: row.topic }, row.messages],
  )
  labelled(
    'counter',
    'zstate_topic_bytes_total',
    'Bytes of the messages published on the topic.',
    ['topic'],
    topics,
    (row) => [{ topic: row.topic }, row.bytes],
  )

  labelled(
    'gauge',
    'zstate_process_cpu_percent',
    '% of one core used by the server, each context owner and each child, since the previous sample.',
    PROCESS_LABELS,
    processRows,
    (row) => (row.usage.cpu === null ? undefined : [row.labels, row.usage.cpu]),
  )
  labelled(
    'gauge',
    'zstate_process_resident_memory_bytes',
    'Resident set size of the server, each context owner and each child.',
    PROCESS_LABELS,
    processRows,
    (row) => (row.usage.memory === null ? undefined : [row.labels, row.usage.memory]),
  )

  if (durable) {
    counter('zstate_fsync_total', 'fsyncs of the write-ahead log.', (s) => s.stats.storage?.fsyncs ?? 0)
    counter(
      'zstate_fsync_seconds_total',
      'Time spent in fsyncs of the write-ahead log.',
      (s) => s.stats.storage?.fsyncSeconds ?? 0,
    )
  }
  if (!gateway) return
  // An outage of etcd must not look like an idle state: writes are refused while nothing else moves.
  gauge(
    'zstate_etcd_up',
    'Whether etcd answers this gateway (1), or counts as down and writes are refused (0).',
    (s) => (s.stats.etcd?.up === true ? 1 : 0),
  )
  counter(
    'zstate_etcd_unavailable_writes_total',
    "Writes of this gateway's clients refused with ERR_UNAVAILABLE.",
    (s) => s.stats.etcd?.unavailableWrites ?? 0,
  )
  counter(
    'zstate_etcd_failed_requests_total',
    'Requests of this gateway to an etcd member that got no answer.',
    (s) => s.stats.etcd?.failedRequests ?? 0,
  )
}

// Names repeat (two contexts called alike, children given one name) and threads share their process's
// pid: the context's id and the thread's id keep every row its own series.
const PROCESS_LABELS = ['context', 'context_id', 'name', 'pid', 'thread', 'role'] as const

interface ProcessRow {
  readonly labels: Record<(typeof PROCESS_LABELS)[number], string>
  readonly usage: ProcessUsage
}

// The server, each context's owner and each child, labelled as the process metrics are.
function* processRows({ table }: Scrape): Generator<ProcessRow> {
  const { server } = table
  const none = { context: '', context_id: '', thread: '' }
  yield { labels: { ...none, name: 'server', pid: String(server.pid), role: 'server' }, usage: server }
  for (const context of table.contexts) {
    const owner = { context: context.name, context_id: context.id }
    const labels = { ...owner, name: context.name, pid: String(context.pid), thread: '', role: 'context' }
    yield { labels, usage: context }
    for (const child of context.children) {
      const thread = child.threadId === null ? '' : String(child.threadId)
      yield {
        labels: { ...owner, name: child.name, pid: String(child.pid), thread, role: 'child' },
        usage: child,
      }
    }
  }
}
