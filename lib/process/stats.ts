// ChildHandle.stats(): CPU and memory of a live child, from pidusage (loaded only when asked for,
// so children that never ask do not pay for it).
import { ErrorCode, ZStateError } from '../errors.ts'
import { importModule } from '../import-module.ts'
import type { ChildStats } from './types.ts'

export async function processStats(
  pid: number | undefined,
  running: boolean,
  startedAt: number,
): Promise<ChildStats> {
  if (pid === undefined || !running) throw notRunning(pid)
  const { default: pidusage } = (await importModule('pidusage')) as { default: typeof import('pidusage') }
  try {
    const { cpu, memory } = await pidusage(pid)
    return { pid, cpu, memory, elapsed: Date.now() - startedAt }
  } catch (error) {
    throw new ZStateError(ErrorCode.CLOSED, `no statistics for pid ${pid}: it has exited`, { cause: error })
  }
}

export function notRunning(pid: number | undefined): ZStateError {
  return new ZStateError(
    ErrorCode.CLOSED,
    pid === undefined ? 'the child has no process (yet)' : `the child (pid ${pid}) is not running`,
  )
}
