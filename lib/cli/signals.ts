// SIGINT/SIGTERM/SIGHUP as an AbortSignal, for commands that run until interrupted. SIGHUP is the
// terminal going away (an ssh session dropped): a server in it closes as on SIGTERM, not as if killed.
import { ErrorCode, ZStateError } from '../errors.ts'

export interface Termination {
  readonly signal: AbortSignal
  dispose(): void
}

// The terminations of commands that stream their output, which a reader going away also ends.
const streaming = new Set<AbortController>()

const TERMINATING: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

// The first signal aborts (the command then cleans up); a second one exits at once. With `streaming`,
// a closed stdout (outputClosed()) aborts it too.
export function onTermination(streams = false): Termination {
  const controller = new AbortController()
  if (streams) streaming.add(controller)
  const handler = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.stderr.write(`zstate: ${name} again, exiting without cleanup\n`)
      process.exit(1)
    }
    controller.abort(new ZStateError(ErrorCode.ABORTED, `interrupted by ${name}`))
  }
  for (const name of TERMINATING) process.on(name, handler)
  return {
    signal: controller.signal,
    dispose() {
      streaming.delete(controller)
      for (const name of TERMINATING) process.off(name, handler)
    },
  }
}

// The reader of stdout went away (`zstate watch | head -1`): a streaming command ends as on SIGINT,
// saying goodbye to the server, rather than leave its session to expire. false: none is running.
export function outputClosed(): boolean {
  for (const controller of streaming)
    controller.abort(new ZStateError(ErrorCode.ABORTED, 'the output was closed'))
  return streaming.size > 0
}

// Resolves when the signal aborts (at once if it already has).
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

// Settles with the promise, or with undefined as soon as the signal aborts. Its abort listener goes
// when it settles: a loop that waits on every turn (top's refresh) would pile them up.
export async function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined
  let onAbort: (() => void) | undefined
  const abort = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, abort])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}
