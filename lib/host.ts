// Which machine (and pid namespace) this is, and when a process started: a context's watchdog kills
// a process only when it is still the one the context started, never a recycled pid; the server
// measures a context's processes only when they run where it can see them.
import { readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'

let cachedHostId: string | undefined

// Equal on both sides only when pids mean the same processes: same boot of the same kernel, same
// pid namespace (Linux); elsewhere the host name.
export function hostId(): string {
  if (cachedHostId !== undefined) return cachedHostId
  let id = `host:${hostname()}`
  if (process.platform === 'linux') {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
      id = `linux:${boot}:${readlinkSync('/proc/self/ns/pid')}`
    } catch {
      // no /proc: keep the host name
    }
  }
  cachedHostId = id
  return id
}

// When a live process started (clock ticks since boot on Linux; 0 where unknown), or undefined when
// there is no such process or it is a zombie (it has exited, its parent just has not reaped it).
export function processStart(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  if (process.platform === 'linux') {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      return undefined
    }
    // Fields after the command name (which may contain spaces and parentheses): state is field 3,
    // starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    if (state === 'Z' || state === 'X' || state === 'x') return undefined
    const start = Number(fields[19])
    return Number.isFinite(start) ? start : 0
  }
  try {
    process.kill(pid, 0)
    return 0
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 0 : undefined
  }
}

// True while the process that had `start` at registration is still running.
export function isSameProcess(pid: number, start: number): boolean {
  const now = processStart(pid)
  return now !== undefined && (start === 0 || now === start)
}
