// Entry point of every child process zstate spawns. The job comes over the IPC channel; the process
// exits when it is done, and at once when that channel closes (its parent has died). Only here does
// zstate listen on process 'message'/'disconnect': a process it did not spawn is never affected.
import type { FromChild, Job, ToChild } from './messages.ts'
import { runChild } from './runtime.ts'

if (process.send === undefined) {
  process.stderr.write('zstate: bootstrap runs only as a child spawned by a zstate context\n')
  process.exit(2)
}

process.on('disconnect', () => process.exit(1))

const listeners: ((message: ToChild) => void)[] = []

process.on('message', (message: ToChild) => {
  if (message.t === 'job') void start(message)
  else for (const listener of listeners) listener(message)
})

let started = false

// Loaded: a warm pool's child now only waits for its job.
process.send({ t: 'warm' } satisfies FromChild)

async function start(job: Job): Promise<void> {
  if (started) return
  started = true
  const code = await runChild(job, {
    send: (message: FromChild) =>
      new Promise<void>((resolve, reject) => {
        try {
          process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve()))
        } catch (error) {
          reject(error)
        }
      }),
    onMessage: (listener) => listeners.push(listener),
  })
  // Whatever the worker left behind (timers, sockets) must not keep the process alive.
  await Promise.all([flush(process.stdout), flush(process.stderr)])
  process.exit(code)
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()))
}
