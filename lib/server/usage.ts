// CPU and memory of processes by pid (pidusage), for `zstate top`; a pid that is gone has no entry.
// pidusage is loaded at the first look: most servers are never asked.
import { CpuMeter } from '../cpu-meter.ts'
import type { ProcessUsage } from '../protocol/process-table.ts'

// CPU is measured between two looks at a pid (the first look: since it started).
export class UsageSampler {
  #meters = new Map<number, CpuMeter>()

  async sample(pids: readonly number[]): Promise<Map<number, ProcessUsage>> {
    const { default: pidusage } = await import('pidusage')
    // One call per pid: with an array, pidusage fails as a whole when any one pid has exited.
    const settled = await Promise.allSettled(pids.map((pid) => pidusage(pid)))
    const usage = new Map<number, ProcessUsage>()
    const meters = new Map<number, CpuMeter>()
    settled.forEach((result, i) => {
      if (result.status !== 'fulfilled') return
      const pid = pids[i]!
      const meter = this.#meters.get(pid) ?? new CpuMeter()
      meters.set(pid, meter)
      const { memory, elapsed } = result.value
      usage.set(pid, { cpu: Math.round(meter.read(result.value) * 10) / 10, memory, elapsed })
    })
    // Only the pids of this look are kept, so the history cannot grow without bound.
    this.#meters = meters
    return usage
  }
}
