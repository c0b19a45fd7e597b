// Entry point of every worker thread zstate spawns (thread: true): the bootstrap's contract over
// the thread's port. The thread dies with its process, so it needs no lifetime handling of its own.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { useSockets } from '../link/sockets.ts'
import type { Job, ToChild } from './messages.ts'
import { runChild } from './runtime.ts'
import { proxySockets } from './thread-sockets.ts'

const port = parentPort
if (port === null) throw new Error('zstate: thread-entry runs only as a worker thread spawned by zstate')

const listeners: ((message: ToChild) => void)[] = []
port.on('message', (message: ToChild) => {
  for (const listener of listeners) listener(message)
})

const data = workerData as { job: Job; sockets: MessagePort }
useSockets(proxySockets(data.sockets))

const code = await runChild(data.job, {
  send: async (message) => port.postMessage(message),
  onMessage: (listener) => listeners.push(listener),
})
process.exit(code)
