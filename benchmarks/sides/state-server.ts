import process from 'node:process'
import type { Server, ServerOptions } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { memoryNow } from '../support/memory.ts'
import { serveSide } from '../support/processes.ts'

const { startServer } = zstatePackage

// A zstate server in its own process, as in production.
let server: Server | undefined

serveSide(
  {
    // `options`: storage settings (dataDir, fsync) and curve from the scenario; structured-cloned over IPC.
    async start(
      address: string,
      actions?: string,
      options: Pick<ServerOptions, 'dataDir' | 'fsync' | 'curve'> = {},
    ) {
      server = await startServer({ ...options, address, ...(actions === undefined ? {} : { actions }) })
      return server.address
    },
    memory: () => memoryNow(),
    // CPU time of this process so far (every thread, libzmq's included), for CPU per operation.
    cpu: () => process.cpuUsage(),
  },
  () => server?.close(),
)
