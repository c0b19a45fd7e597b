import { execFile } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { promisify } from 'node:util'
import { compare, type Comparison, type Unit } from './report.ts'

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
function serverAndClientOn<T>(
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

// The placements rows (a) and (b) measure `measure` in, as contenders for interleaved(): the server's
// process and this one on a core each, and both on one core.
export function placed<T>(
  pinnable: boolean,
  serverPid: number,
  measure: () => Promise<T>,
): { coreEach: (() => Promise<T>) | undefined; oneCore: (() => Promise<T>) | undefined } {
  return {
    coreEach: serverAndClientOn(pinnable, serverPid, ['0', '1'], measure),
    oneCore: serverAndClientOn(pinnable, serverPid, ['0', '0'], measure),
  }
}

export interface Placed {
  readonly coreEach: readonly number[]
  readonly oneCore: readonly number[]
}

// Their rows: each placement against the same unpinned, and against `raw` (named `rawName`) on the
// same cores when given.
export function placementRows(
  unit: Unit,
  zstate: Placed,
  unpinned: readonly number[],
  raw?: { readonly name: string; readonly values: Placed },
): Comparison[] {
  const rows = (
    label: string,
    values: readonly number[],
    rawValues: readonly number[] | undefined,
    cores: string,
  ) => [
    compare(label, unit, values, 'the same, unpinned', unpinned),
    ...(raw === undefined
      ? []
      : [compare(label, unit, values, `${raw.name} on the same ${cores}`, rawValues!)]),
  ]
  return [
    ...rows('throughput, server and client on a core each', zstate.coreEach, raw?.values.coreEach, 'cores'),
    ...rows('throughput, server and client on one core', zstate.oneCore, raw?.values.oneCore, 'core'),
  ]
}

export const PLACEMENT_NOTE =
  'on a core each / on one core: every thread of the server’s process and of the client’s bound with `taskset -a -p -c` (cores 0 and 1, or both 0) for the run, then unbound'
