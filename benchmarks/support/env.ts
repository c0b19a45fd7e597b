import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { cpus, release, totalmem } from 'node:os'
import process from 'node:process'
import { version as libzmqVersion } from 'zeromq'
import { runs, scale } from './config.ts'

// What every process a benchmark starts goes without, from the environment this one was given.
// NODE_EXTRA_CA_CERTS: when it is set at all, Node 20 builds its TLS root store and reads that
// bundle as it starts, whatever the process does (about 80 ms of CPU per process on the machine of
// these runs, which sets it); no process here uses TLS, and a start-up row would measure the
// machine's certificates on both sides. Removed as this module loads, before any process starts.
// BENCH_UNSET passes what a parent (run-all) removed on to the scenarios it starts.
const UNSET = ['NODE_EXTRA_CA_CERTS'].filter(
  (name) => process.env[name] !== undefined || process.env['BENCH_UNSET']?.split(',').includes(name),
)
for (const name of UNSET) delete process.env[name]
if (UNSET.length > 0) process.env['BENCH_UNSET'] = UNSET.join(',')

// Where and when numbers were measured: a benchmark result without this is not comparable to anything.
export interface Environment {
  readonly date: string
  readonly node: string
  readonly os: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly zeromq: string
  readonly redis: string | undefined
  readonly scale: number
  readonly runs: number
  // Variables of the given environment that no benchmark process started with (see UNSET).
  readonly unset?: readonly string[]
}

const require = createRequire(import.meta.url)

function packageVersion(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version
}

function redisVersion(): string | undefined {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    return /v=(\S+)/.exec(out)?.[1]
  } catch {
    return undefined
  }
}

export function environment(): Environment {
  const cpuList = cpus()
  return {
    date: new Date().toISOString(),
    node: process.version,
    os: `${process.platform} ${release()}`,
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    zeromq: `zeromq.js ${packageVersion('zeromq')} (libzmq ${libzmqVersion})`,
    redis: redisVersion(),
    scale,
    runs,
    unset: UNSET,
  }
}

export function describeEnvironment(e: Environment): string {
  return [
    `${e.date} · Node ${e.node} · ${e.os}`,
    `${e.cpu} · ${e.cores} cores · ${e.memoryGiB} GiB`,
    `${e.zeromq} · Redis ${e.redis ?? 'not installed'}`,
    `BENCH_SCALE=${e.scale} · ${e.runs} runs per median`,
    ...(e.unset?.length ? [`processes started without ${e.unset.join(', ')} (set on this machine)`] : []),
  ].join('\n')
}
