// Entry point of the state server a context starts: it serves until its owner closes it, or until
// the owner dies (its IPC channel closes; a server too busy to notice is killed by the owner's
// watchdog, lib/process/watchdog.ts).
import { isZStateError } from '../errors.ts'
import { startServer, type Server, type ServerOptions } from '../server/server.ts'
import type { ServerMessage } from './server-process.ts'

let server: Server | undefined
let exiting = false

async function exit(): Promise<never> {
  if (!exiting) {
    exiting = true
    await Promise.race([server?.close(), new Promise((resolve) => setTimeout(resolve, 2_000))])
  }
  process.exit(0)
}

function send(message: ServerMessage): void {
  process.send?.(message)
}

process.on('disconnect', () => void exit())

process.on('message', (message: { t: string; options?: ServerOptions }) => {
  if (message.t === 'close') {
    void exit()
    return
  }
  if (message.t !== 'start' || server !== undefined) return
  startServer(message.options ?? {}).then(
    (started) => {
      server = started
      send({ t: 'started', address: started.address })
    },
    (error: unknown) => {
      const code = isZStateError(error) ? error.code : 'ERR_INVALID_ARGUMENT'
      send({ t: 'failed', code, message: error instanceof Error ? error.message : String(error) })
    },
  )
})
