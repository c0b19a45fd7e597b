// ChildHandle.stats(): CPU and memory of a live child, from pidusage (loaded only when asked for,
// so children that never ask do not pay for it).
import { ErrorCode, ZStateError } from '../errors.ts'
import type { CpuMeter } from '../cpu-meter.ts'
import { importModule } from '../import-module.ts'
import type { ChildStats } from './types.ts'

// `cpu` is the attempt's own meter: its cpu is measured since its last reading, or since it started.
export async function processStats(
  pid: number | undefined,
  running: boolean,
  startedAt: number,
  cpu: CpuMeter,
): Promise<ChildStats> {
  if (pid === undefined || !running) throw notRunning(pid)
  const { default: pidusage } = (await importModule('pidusage')) as { default: typeof import('pidusage') }
  let usage: import('pidusage').Status
  try {
    usage = await pidusage(pid)
  } catch (error) {
    throw new ZStateError(ErrorCode.CLOSED, `no statistics for pid ${pid}: it has exited`, { cause: error })
  }
  return { pid, cpu: cpu.read(usage), memory: usage.memory, elapsed: Date.now() - startedAt }
}

export function notRunning(pid: number | undefined): ZStateError {
  return new ZStateError(
    ErrorCode.CLOSED,
    pid === undefined ? 'the child has no process (yet)' : `the child (pid ${pid}) is not running`,
  )
}
