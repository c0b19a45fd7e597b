import { ETCD_PACKAGE, etcdInstalled } from '../../spec/fixtures/etcd-cluster.ts'
import { forkSide } from './processes.ts'
import type { ScenarioResult } from './report.ts'

// A gateway for the scale-out scenarios: a zstate server in a process of its own on a free loopback
// port, started with etcd: { endpoints, prefix } (benchmarks/sides/state-server.ts passes it on).
export const GATEWAY_ADDRESS = 'tcp://127.0.0.1:*'

export interface Gateway extends AsyncDisposable {
  readonly address: string
  // CPU time of its process so far (user + system, µs, every thread).
  cpuUs(): Promise<number>
}

export async function startGateway(endpoints: readonly string[], prefix: string): Promise<Gateway> {
  const side = await forkSide(new URL('../sides/state-server.ts', import.meta.url))
  try {
    const address = await side.call<string>('start', GATEWAY_ADDRESS, undefined, {
      etcd: { endpoints: [...endpoints], prefix },
    })
    return {
      address,
      cpuUs: async () => {
        const { user, system } = await side.call<NodeJS.CpuUsage>('cpu')
        return user + system
      },
      [Symbol.asyncDispose]: () => side.stop(),
    }
  } catch (error) {
    await side.stop()
    throw error
  }
}

// The result of a scenario that needs etcd where etcd is not installed (said loudly, no numbers);
// undefined where it is.
export function withoutEtcd(
  scenario: Pick<ScenarioResult, 'id' | 'title' | 'section'>,
): Omit<ScenarioResult, 'environment'> | undefined {
  if (etcdInstalled()) return undefined
  console.log(`SKIP ${scenario.id}: etcd is not installed (apt-get install -y ${ETCD_PACKAGE}).`)
  return {
    ...scenario,
    comparisons: [],
    notes: [`skipped: etcd is not installed (apt-get install -y ${ETCD_PACKAGE})`],
  }
}
