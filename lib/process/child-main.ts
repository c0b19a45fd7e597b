// A child process of zstate's: the job comes over the IPC channel; the process exits when it is done,
// and at once when that channel closes (its parent has died). Only here does zstate listen on process
// 'message'/'disconnect': a process it did not spawn is never affected. Its entry runs it: this module
// itself from source, lib/process/bootstrap.ts once built.
//
// Built as one CommonJS file (no shared chunks: Node 20 loads each module file at a cost, about a
// third of this module's load in chunks; CommonJS, so that the bootstrap can compile it with V8's code
// cache), it is also what `import 'zstate'` gives a child's target: children start with the export
// condition "zstate-child" (lib/process/launch.ts), which the package maps to this file. So a target
// shares this copy of zstate (its classes, `instanceof`) instead of loading a second one.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'
import type { FromChild, Job, ToChild } from './messages.ts'
import { runChild } from './runtime.ts'

// zstate's export, as a target importing it gets it here (its startServer loads the server then).
export * from '../index.ts'
export { startServer } from './child-server.ts'

const listeners: ((message: ToChild) => void)[] = []
let started = false

// Makes this process a child. Only a child's entry calls it: imported as zstate, this module is only
// zstate's export (in a worker thread of a child, or in a script a child forks with its own flags,
// the condition with them).
export function runAsChild(): void {
  if (process.send === undefined) {
    process.stderr.write('zstate: bootstrap runs only as a child spawned by a zstate context\n')
    process.exit(2)
  }
  process.on('disconnect', () => process.exit(1))
  const usedStreams = trackStreams()
  process.on('message', (message: ToChild) => {
    if (message.t === 'job') void start(message, usedStreams)
    else for (const listener of listeners) listener(message)
  })
  // Loaded: a warm pool's child now only waits for its job.
  process.send({ t: 'warm' } satisfies FromChild)
}

// From source, this module is a child process's entry (lib/process/launch.ts).
if (
  isMainThread &&
  process.argv[1] !== undefined &&
  samePath(process.argv[1], fileURLToPath(import.meta.url))
)
  runAsChild()

async function start(job: Job, usedStreams: () => NodeJS.WriteStream[]): Promise<void> {
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

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b)
  } catch {
    return false
  }
}
