// One frame of `zstate top` as text: the server, its clients, every context with its children.
import type { ProcessTable } from '../protocol/process-table.ts'
import type { EtcdStats } from '../protocol/server-stats.ts'
import type { Colors } from './colors.ts'
import { printable } from './printable.ts'

export interface TopFrame extends Omit<ProcessTable, 'server'> {
  readonly time: string
  readonly address: string
  readonly server: ProcessTable['server'] & { readonly version: string; readonly epoch: string }
  // An etcd gateway's link to etcd; null on a server that holds its own state.
  readonly etcd: EtcdStats | null
}

const NAME_WIDTH = 30
// A client's name may hold 256 characters: the rest of its line is cut.
const CLIENT_NAME_WIDTH = 64

export function renderFrame(frame: TopFrame, c: Colors, footer: string): string {
  const { server } = frame
  const lines = [
    `${c.bold('zstate top')}  ${frame.address}  ${c.dim(frame.time)}`,
    [
      `server pid ${server.pid}`,
      `v${server.version}`,
      `up ${duration(frame.uptime)}`,
      `revision ${c.bold(frame.revision.toLocaleString('en'))}`,
      `${c.bold(frame.commitsPerSecond.toFixed(1))} commits/s`,
      `cpu ${percent(server.cpu)}`,
      `mem ${bytes(server.memory)}`,
    ].join('  '),
    ...etcdLine(frame.etcd, c),
    '',
    c.bold(`CLIENTS ${frame.clients.length + frame.omitted.clients}`),
    ...frame.clients.map(
      (client) => `  ${String(client.pid).padEnd(8)} ${printable(client.name, CLIENT_NAME_WIDTH)}`,
    ),
    ...more(c, [[frame.omitted.clients, 'client', 'clients']]),
    '',
    c.bold('PROCESSES'),
    c.dim(
      `  ${'PID'.padEnd(8)} ${'NAME'.padEnd(NAME_WIDTH)} ${'STATUS'.padEnd(9)} ${'CPU%'.padStart(6)} ${'MEMORY'.padStart(10)} ${'AGE'.padStart(8)}`,
    ),
  ]
  if (frame.contexts.length === 0 && frame.omitted.contexts === 0)
    lines.push(c.dim('  no contexts (processes appear here once createContext() runs)'))
  for (const context of frame.contexts) {
    const where = context.local ? '' : c.dim(' (another host)')
    const label = context.status === 'silent' ? c.red(pad('silent')) : c.cyan(pad('context'))
    lines.push(row(context.pid, context.threadId, context.name, label, context, '') + where)
    context.children.forEach((child, i) => {
      const branch = i === context.children.length - 1 ? '└ ' : '├ '
      const status = paintStatus(c, child.status)
      const retry = child.attempts > 1 ? c.dim(` #${child.attempts}`) : ''
      lines.push(row(child.pid, child.threadId, child.name, status, child, branch) + retry)
    })
  }
  lines.push(
    ...more(c, [
      [frame.omitted.contexts, 'context', 'contexts'],
      [frame.omitted.children, 'child', 'children'],
    ]),
  )
  if (footer !== '') lines.push('', c.dim(footer))
  return lines.join('\n') + '\n'
}

// A gateway's view of etcd: whether it answers, and what its outages cost so far.
function etcdLine(etcd: EtcdStats | null, c: Colors): string[] {
  if (etcd === null) return []
  const state = etcd.up ? c.green('up') : c.red('DOWN: writes are refused (ERR_UNAVAILABLE)')
  const counts = `${etcd.unavailableWrites.toLocaleString('en')} writes refused, ${etcd.failedRequests.toLocaleString('en')} requests unanswered`
  return [`etcd ${state}  ${c.dim(counts)}`]
}

function row(
  pid: number,
  threadId: number | null,
  name: string,
  status: string,
  usage: { cpu: number | null; memory: number | null; elapsed: number | null },
  branch: string,
): string {
  const id = threadId === null ? String(pid) : `${pid}/${threadId}`
  const label = printable(branch + name, NAME_WIDTH).padEnd(NAME_WIDTH)
  return [
    `  ${id.padEnd(8)}`,
    label,
    status,
    percent(usage.cpu).padStart(6),
    bytes(usage.memory).padStart(10),
    (usage.elapsed === null ? '-' : duration(usage.elapsed)).padStart(8),
  ].join(' ')
}

// The rows the server left out to keep its reply within its message budget, if any.
function more(c: Colors, counts: [count: number, one: string, many: string][]): string[] {
  const parts = counts
    .filter(([count]) => count > 0)
    .map(([count, one, many]) => `${count.toLocaleString('en')} more ${count === 1 ? one : many}`)
  return parts.length === 0 ? [] : [c.dim(`  … ${parts.join(', ')} not listed`)]
}

// A silent process is the one to look at. Any other status (one a newer server may send) reads
// as transitional.
function paintStatus(c: Colors, status: string): string {
  if (status === 'running') return c.green(pad(status))
  return status === 'silent' ? c.red(pad(status)) : c.yellow(pad(status))
}

// Padded before it is coloured: escapes have no width.
function pad(status: string): string {
  return status.padEnd(9)
}

function percent(cpu: number | null): string {
  return cpu === null ? '-' : cpu.toFixed(1)
}

function bytes(memory: number | null): string {
  if (memory === null) return '-'
  return memory >= 1 << 30 ? `${(memory / 2 ** 30).toFixed(2)} GiB` : `${(memory / 2 ** 20).toFixed(1)} MiB`
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}
