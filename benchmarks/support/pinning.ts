import { execFile } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'

const run = promisify(execFile)

// Where a process runs: its pid and the cores it may use, as taskset takes them ("0", "0-1").
type Placement = readonly [pid: number, cores: string]

// Whether this machine can bind processes to cores: Linux's taskset (util-linux) and at least two.
export async function canPin(): Promise<boolean> {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false
  try {
    await run('taskset', ['-p', String(process.pid)])
    return true
  } catch {
    return false
  }
}

// `measure`, with every thread of each process bound to its cores, and unbound afterwards (to every
// core: the processes go on being measured unpinned).
async function onCores<T>(placements: readonly Placement[], measure: () => Promise<T>): Promise<T> {
  const all = `0-${availableParallelism() - 1}`
  await Promise.all(placements.map(([pid, cores]) => bind(pid, cores)))
  try {
    return await measure()
  } finally {
    await Promise.all(placements.map(([pid]) => bind(pid, all)))
  }
}

async function bind(pid: number, cores: string): Promise<void> {
  await run('taskset', ['-a', '-p', '-c', cores, String(pid)])
}

// A contender for interleaved(): `measure` with the server's process on the first cores and this
// one (the client) on the second; undefined where the machine cannot pin (its rows show no figure).
export function serverAndClientOn<T>(
  pinnable: boolean,
  serverPid: number,
  [serverCores, clientCores]: readonly [string, string],
  measure: () => Promise<T>,
): (() => Promise<T>) | undefined {
  if (!pinnable) return undefined
  return () =>
    onCores(
      [
        [serverPid, serverCores],
        [process.pid, clientCores],
      ],
      measure,
    )
}
