// The PROCESSES table: the server, its clients and every registered context with its children,
// with CPU and memory measured here. It always fits one reply, whatever clients registered: rows
// beyond the byte budget are left out and counted; at most MAX_SAMPLED_PIDS processes are measured
// per table, and requests that arrive while one is being gathered share it. A process the server
// has not heard from for the host's silence is listed as silent, whatever its owner registered.
import type {
  ChildRow,
  ChildStatus,
  ContextRow,
  ListedStatus,
  ProcessTable,
  ProcessUsage,
} from '../protocol/process-table.ts'
import { UsageSampler, type Reading } from './usage.ts'

export interface ChildEntry {
  readonly name: string
  readonly pid: number
  readonly threadId: number | null
  status: ChildStatus
  attempts: number
  // False: the child runs without a client of its own (a map worker whose target never reads its
  // ctx), so only its context's owner can vouch for it.
  joined: boolean
}

export interface ContextEntry {
  readonly id: string
  name: string
  // The owner as its session claims it: shown, and measured when local, never signalled.
  readonly pid: number
  readonly threadId: number | null
  // The claimed owner runs on this host, in this pid namespace, as far as the server can see.
  readonly local: boolean
  // The session that opened it: when it falls silent, so does the context's row.
  readonly owner: Heard
  readonly children: Map<string, ChildEntry>
}

interface Heard {
  // When the server last received anything from this session (Date.now()).
  readonly lastSeen: number
}

export interface ListingHost {
  clients(): Iterable<{ readonly name: string; readonly pid: number } & Heard>
  // ms without a message after which a process counts as silent.
  silence(): number
  revision(): number
  // Commits since the server started (STATS' commits): on etcd, revisions also count writes outside
  // the prefix, so commits/s is taken from this count.
  commits(): number
  // Bytes the table may take in its reply.
  budget(): number
}

const RATE_SAMPLES = 6
// The shortest span commits/s is taken over: a server's first commits are no burst.
const MIN_RATE_MS = 1000
const MAX_SAMPLED_PIDS = 512
// Upper bounds of the encoded size of the table's fixed part and of each row, strings aside
// (msgpack numbers take at most 9 bytes, a string its UTF-8 bytes plus at most 5).
const TABLE_BYTES = 256
const CONTEXT_ROW_BYTES = 128
const CHILD_ROW_BYTES = 128
const CLIENT_ROW_BYTES = 32
const MAX_NAME = 256

type Unmeasured<Row> = Omit<Row, keyof ProcessUsage>
type ListedContext = Unmeasured<ContextRow> & { readonly children: Unmeasured<ChildRow>[] }

export class ProcessListing {
  readonly #host: ListingHost
  readonly #started = Date.now()
  readonly #samples: [time: number, commits: number][] = []
  readonly #usage = new UsageSampler()
  readonly #sampler: NodeJS.Timeout
  #gathering: Promise<Gathered> | undefined

  constructor(host: ListingHost) {
    this.#host = host
    this.#samples.push([Date.now(), host.commits()])
    this.#sampler = setInterval(() => this.#sample(), 1000)
    this.#sampler.unref()
  }

  // The table as `viewer` (a session, the metrics endpoint) sees it: CPU since its own last look.
  // Requests that come together share one gathering.
  async table(contexts: Iterable<ContextEntry>, viewer: object): Promise<ProcessTable> {
    this.#gathering ??= this.#gather(contexts).finally(() => (this.#gathering = undefined))
    const { table, readings } = await this.#gathering
    return withCpu(table, this.#usage.cpu(readings, viewer))
  }

  close(): void {
    clearInterval(this.#sampler)
  }

  async #gather(entries: Iterable<ContextEntry>): Promise<Gathered> {
    let left = this.#host.budget() - TABLE_BYTES
    const silentBefore = Date.now() - this.#host.silence()
    // A child is heard through its own client, which joins under the child's pid and name.
    const heard = new Map<string, number>()
    const omitted = { clients: 0, contexts: 0, children: 0 }
    // Contexts first, then clients, then children: the rows copied now, measured after the await.
    const contexts: ListedContext[] = []
    const sources: ContextEntry[] = []
    for (const entry of entries) {
      const name = entry.name.slice(0, MAX_NAME)
      const cost = CONTEXT_ROW_BYTES + stringBytes(entry.id) + stringBytes(name)
      if (cost > left) {
        omitted.contexts++
        omitted.children += entry.children.size
        continue
      }
      left -= cost
      const { id, pid, threadId, local } = entry
      const status = entry.owner.lastSeen < silentBefore ? 'silent' : 'running'
      contexts.push({ id, name, pid, threadId, local, status, children: [] })
      sources.push(entry)
    }
    const clients: { name: string; pid: number }[] = []
    for (const client of this.#host.clients()) {
      const who = processKey(client.pid, client.name)
      heard.set(who, Math.max(heard.get(who) ?? 0, client.lastSeen))
      const name = client.name.slice(0, MAX_NAME)
      const cost = CLIENT_ROW_BYTES + stringBytes(name)
      if (cost > left) omitted.clients++
      else {
        left -= cost
        clients.push({ name, pid: client.pid })
      }
    }
    sources.forEach((entry, i) => {
      for (const child of entry.children.values()) {
        const cost = CHILD_ROW_BYTES + stringBytes(child.name)
        if (cost > left) omitted.children++
        else {
          left -= cost
          const { name, pid, threadId, attempts } = child
          const lastHeard = child.joined ? (heard.get(processKey(pid, name)) ?? 0) : entry.owner.lastSeen
          const silent = child.status === 'running' && lastHeard < silentBefore
          const status = silent ? 'silent' : (child.status as ListedStatus)
          contexts[i]!.children.push({ name, pid, threadId, status, attempts })
        }
      }
    })
    const readings = await this.#usage.read(sampledPids(contexts))
    const none = { cpu: null, memory: null, elapsed: null }
    // CPU is the viewer's: withCpu() fills it in where a reading was taken.
    const measured = (local: boolean, pid: number): ProcessUsage => {
      const reading = local ? readings.get(pid) : undefined
      return reading === undefined ? none : { cpu: null, memory: reading.memory, elapsed: reading.elapsed }
    }
    const [since, from] = this.#samples[0]!
    const now = Date.now()
    const table = {
      server: { pid: process.pid, ...measured(true, process.pid) },
      revision: this.#host.revision(),
      commitsPerSecond: ((this.#host.commits() - from) * 1000) / Math.max(now - since, MIN_RATE_MS),
      uptime: now - this.#started,
      clients,
      contexts: contexts.map((context) => ({
        ...context,
        ...measured(context.local, context.pid),
        children: context.children.map((child) => ({ ...child, ...measured(context.local, child.pid) })),
      })),
      omitted,
    }
    return { table, readings }
  }

  #sample(): void {
    this.#samples.push([Date.now(), this.#host.commits()])
    if (this.#samples.length > RATE_SAMPLES) this.#samples.shift()
  }
}

interface Gathered {
  readonly table: ProcessTable
  readonly readings: ReadonlyMap<number, Reading>
}

// `table` with the CPU of every measured row (one with memory figures) from `cpu`.
function withCpu(table: ProcessTable, cpu: ReadonlyMap<number, number>): ProcessTable {
  const filled = <Row extends { pid: number } & ProcessUsage>(row: Row): Row =>
    row.memory === null ? row : { ...row, cpu: cpu.get(row.pid) ?? null }
  return {
    ...table,
    server: filled(table.server),
    contexts: table.contexts.map((context) => ({
      ...filled(context),
      children: context.children.map(filled),
    })),
  }
}

// The server's own pid, then the listed local owners and their children, up to MAX_SAMPLED_PIDS.
function sampledPids(contexts: readonly ListedContext[]): number[] {
  const pids = new Set<number>([process.pid])
  for (const context of contexts) {
    if (!context.local) continue
    pids.add(context.pid)
    for (const child of context.children) pids.add(child.pid)
  }
  return [...pids].slice(0, MAX_SAMPLED_PIDS)
}

// Both names are cut to the same length where they are stored, so they compare whole.
function processKey(pid: number, name: string): string {
  return `${pid} ${name}`
}

function stringBytes(value: string): number {
  return Buffer.byteLength(value) + 5
}
