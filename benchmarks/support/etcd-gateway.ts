import { forkSide } from './processes.ts'

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
