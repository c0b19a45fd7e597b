// CPU and memory of processes by pid (pidusage), for `zstate top`; a pid that is gone has no entry.
// pidusage is loaded at the first look: most servers are never asked.
import { cpuShare, type CpuLook } from '../cpu-share.ts'
import type { ProcessUsage } from '../protocol/process-table.ts'

// CPU is measured between two looks at a pid (the first look: since it started).
export class UsageSampler {
  #previous = new Map<number, CpuLook>()

  async sample(pids: readonly number[]): Promise<Map<number, ProcessUsage>> {
    const { default: pidusage } = await import('pidusage')
    // One call per pid: with an array, pidusage fails as a whole when any one pid has exited.
    const settled = await Promise.allSettled(pids.map((pid) => pidusage(pid)))
    const usage = new Map<number, ProcessUsage>()
    const samples = new Map<number, CpuLook>()
    settled.forEach((result, i) => {
      if (result.status !== 'fulfilled') return
      const pid = pids[i]!
      const { ctime, timestamp, memory, elapsed } = result.value
      const cpu = cpuShare(result.value, this.#previous.get(pid))
      samples.set(pid, { ctime, timestamp })
      usage.set(pid, { cpu: Math.round(cpu * 10) / 10, memory, elapsed })
    })
    // Only the pids of this look are kept, so the history cannot grow without bound.
    this.#previous = samples
    return usage
  }
}
