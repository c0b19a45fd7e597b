// A child process of zstate's: the job comes over the IPC channel; the process exits when it is done,
// and at once when that channel closes (its parent has died). Only here does zstate listen on process
// 'message'/'disconnect': a process it did not spawn is never affected. Its entry runs it: the
// bootstrap once built (lib/process/bootstrap.ts), child-main.ts from source.
//
// It loads none of zstate's client: a map worker whose target never reads its ctx runs without it
// (lib/process/runtime.ts). `withContext` loads it when a job needs it, and at once in a warm pool's
// child (asked by 'warm-up'), which is there to start any job fast.
import type { FromChild, Job, ToChild } from './messages.ts'
import { Inbox } from './inbox.ts'
import { runChild, type ParentPort, type RunJob } from './runtime.ts'

const inbox = new Inbox<ToChild>()
let started = false
// A warm pool's child: its parent hears that it took the job (lib/process/process-attempt.ts).
let warm = false

// Makes this process a child. Only a child's entry calls it.
export function runAsChild(withContext: () => Promise<RunJob>): void {
  if (process.send === undefined) {
    process.stderr.write('zstate: bootstrap runs only as a child spawned by a zstate context\n')
    process.exit(2)
  }
  process.on('disconnect', () => process.exit(1))
  const usedStreams = trackStreams()
  process.on('message', (message: ToChild) => {
    if (message.t === 'job') void start(message, usedStreams, withContext)
    else if (message.t === 'warm-up') {
      warm = true
      void withContext().then(() => process.send!({ t: 'warm' } satisfies FromChild))
    } else inbox.deliver(message)
  })
}

async function start(
  job: Job,
  usedStreams: () => NodeJS.WriteStream[],
  withContext: () => Promise<RunJob>,
): Promise<void> {
  if (started) return
  started = true
  if (warm) process.send!({ t: 'took' } satisfies FromChild)
  const port: ParentPort = {
    send: (message: FromChild) =>
      new Promise<void>((resolve, reject) => {
        try {
          process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve()))
        } catch (error) {
          reject(error)
        }
      }),
    onMessage: (listener) => inbox.listen(listener),
  }
  const code = await runChild(job, port, withContext)
  // Whatever the worker left behind (timers, sockets) must not keep the process alive.
  await Promise.all(usedStreams().map(flush))
  process.exit(code)
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()))
}

// Which of stdout and stderr this process has used: Node makes each on first use (console.log
// included), and one never made holds nothing to flush, so exit does not make it (about 1 ms).
function trackStreams(): () => NodeJS.WriteStream[] {
  const used = new Set<NodeJS.WriteStream>()
  for (const name of ['stdout', 'stderr'] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(process, name)
    if (descriptor?.get === undefined || descriptor.configurable !== true) {
      used.add(process[name])
      continue
    }
    Object.defineProperty(process, name, {
      ...descriptor,
      get(): NodeJS.WriteStream {
        const stream = descriptor.get!.call(process) as NodeJS.WriteStream
        used.add(stream)
        return stream
      },
    })
  }
  return () => [...used]
}
