// A process's CPU as a % of one core, from pidusage's cumulative figures: over the time since the
// last look at it, or since it started. (pidusage's own `cpu` is 0 at its first call for a pid,
// which it reads twice a moment apart, and again once its history of the pid has expired.)

/** What a look keeps for the next one. */
export interface CpuLook {
  readonly ctime: number
  readonly timestamp: number
}

export function cpuShare(
  now: { readonly ctime: number; readonly timestamp: number; readonly elapsed: number },
  before: CpuLook | undefined,
): number {
  const busy = before === undefined ? now.ctime : now.ctime - before.ctime
  const over = before === undefined ? now.elapsed : now.timestamp - before.timestamp
  return over > 0 ? (busy / over) * 100 : 0
}
