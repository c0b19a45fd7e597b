// A process's CPU as a % of one core, from pidusage's cumulative figures: over the time since the
// last reading, or since the process started. (pidusage's own `cpu` is 0 at its first call for a
// pid, which it reads twice a moment apart, and again once its history of the pid has expired.)
export class CpuMeter {
  #last: { ctime: number; timestamp: number } | undefined
  #percent = 0

  read(usage: { readonly ctime: number; readonly timestamp: number; readonly elapsed: number }): number {
    const last = this.#last
    const busy = last === undefined ? usage.ctime : usage.ctime - last.ctime
    const over = last === undefined ? usage.elapsed : usage.timestamp - last.timestamp
    // The same reading again (two looks that shared one): the same figure, not 0.
    if (last !== undefined && over <= 0) return this.#percent
    this.#last = { ctime: usage.ctime, timestamp: usage.timestamp }
    this.#percent = over > 0 ? (busy / over) * 100 : 0
    return this.#percent
  }
}
