// CPU and memory of processes by pid (pidusage), for `zstate top`; a pid that is gone has no entry.
// pidusage is loaded at the first look: most servers are never asked.
import { CpuMeter } from '../cpu-meter.ts'

// pidusage's figures for one pid: cumulative CPU time and when it was read, age and memory.
export interface Reading {
  readonly ctime: number
  readonly timestamp: number
  readonly elapsed: number
  readonly memory: number
}

// CPU is measured between two looks of one viewer (a session, the metrics endpoint) at a pid, the
// first look since the process started. Shared by every viewer, one's look reset the others': a
// `zstate top --once` beside an open dashboard showed a busy process at 0 %.
export class UsageSampler {
  #meters = new WeakMap<object, Map<number, CpuMeter>>()

  async read(pids: readonly number[]): Promise<Map<number, Reading>> {
    const { default: pidusage } = await import('pidusage')
    // One call per pid: with an array, pidusage fails as a whole when any one pid has exited.
    const settled = await Promise.allSettled(pids.map((pid) => pidusage(pid)))
    const readings = new Map<number, Reading>()
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled') readings.set(pids[i]!, result.value)
    })
    return readings
  }

  // The CPU of each pid read, as % of one core, since `viewer` last looked at it.
  cpu(readings: ReadonlyMap<number, Reading>, viewer: object): Map<number, number> {
    const previous = this.#meters.get(viewer)
    const meters = new Map<number, CpuMeter>()
    const cpu = new Map<number, number>()
    for (const [pid, reading] of readings) {
      const meter = previous?.get(pid) ?? new CpuMeter()
      meters.set(pid, meter)
      cpu.set(pid, Math.round(meter.read(reading) * 10) / 10)
    }
    // Only the pids of this look are kept, so a viewer's history cannot grow without bound.
    this.#meters.set(viewer, meters)
    return cpu
  }
}
