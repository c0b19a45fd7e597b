import { closeSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs'
import { Router } from 'zeromq'
import { serveSide } from '../support/processes.ts'

// Baseline server: a ROUTER that sends every message straight back, all its frames, the floor under
// any request/reply. Given a log file, it first appends each message's body to it and fdatasyncs it:
// the floor under a durable awaited write (the file made 64 MiB long up front, as zstate makes its
// log segments, so an append changes no size and the fdatasync writes only the data).
const router = new Router({ sendTimeout: 0 })
const LOG_BYTES = 64 << 20
let log: { fd: number; at: number } | undefined

async function echo(): Promise<void> {
  for await (const message of router) {
    if (message.length < 2) continue
    if (log !== undefined) {
      const body = message[message.length - 1]!
      log.at += writeSync(log.fd, body, 0, body.length, log.at)
      fdatasyncSync(log.fd)
    }
    await router.send(message)
  }
}

serveSide(
  {
    async bind(endpoint: string, logPath?: string | null) {
      if (typeof logPath === 'string') {
        const fd = openSync(logPath, 'w')
        ftruncateSync(fd, LOG_BYTES)
        fdatasyncSync(fd)
        log = { fd, at: 0 }
      }
      await router.bind(endpoint)
      void echo().catch((error: unknown) => console.error('echo-router:', error))
    },
  },
  () => {
    router.close()
    if (log !== undefined) closeSync(log.fd)
  },
)
