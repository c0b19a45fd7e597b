// Entry point of every worker thread zstate spawns (thread: true): the bootstrap's contract over
// the thread's port. The thread dies with its process, so it needs no lifetime handling of its own.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { useSockets } from '../link/sockets.ts'
import type { Job, ToChild } from './messages.ts'
import { runWithContext } from './context-runtime.ts'
import { Inbox } from './inbox.ts'
import { runChild } from './runtime.ts'
import { proxySockets } from './thread-sockets.ts'

const port = parentPort
if (port === null) throw new Error('zstate: thread-entry runs only as a worker thread spawned by zstate')

const inbox = new Inbox<ToChild>()
port.on('message', (message: ToChild) => inbox.deliver(message))

const data = workerData as { job: Job; sockets: MessagePort }
useSockets(proxySockets(data.sockets))

// This entry loads zstate's client with it: what a target that never reads its ctx saves here is the join.
const code = await runChild(
  data.job,
  {
    send: async (message) => port.postMessage(message),
    onMessage: (listener) => inbox.listen(listener),
  },
  () => Promise.resolve(runWithContext),
)
process.exit(code)
