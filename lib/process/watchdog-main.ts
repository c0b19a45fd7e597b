// Entry point of a context's watchdog (watchdog.ts). Its stdin is a pipe from the context's process:
// "+PID START GRACE [DIR]" when the context starts a process (DIR, URI-encoded: a directory to remove
// once that process is gone), "-PID" when it has exited. When the pipe closes (the context ended, or
// its process died however it died) it SIGKILLs every process still listed that still has its start
// time (a recycled pid is never hit): at once, or after GRACE ms if it has not exited by itself by
// then, and removes its DIR. Then it exits. It imports nothing else, so it starts fast and small.
import { rmSync } from 'node:fs'
import { isSameProcess } from '../host.ts'

interface Watched {
  readonly start: number
  readonly grace: number
  readonly dir: string | undefined
}

const POLL_MS = 50

const watched = new Map<number, Watched>()
let partial = ''

process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  const lines = (partial + chunk).split('\n')
  partial = lines.pop() ?? ''
  for (const line of lines) read(line)
})
process.stdin.once('end', finish)
process.stdin.once('error', finish)

function read(line: string): void {
  const match = /^([+-])(\d+)(?: (\d+) (\d+)(?: (\S+))?)?$/.exec(line)
  if (match === null) return
  const pid = Number(match[2])
  if (match[1] === '-') return void watched.delete(pid)
  watched.set(pid, { start: Number(match[3] ?? 0), grace: Number(match[4] ?? 0), dir: decoded(match[5]) })
}

// Nothing may throw in here: a watchdog that dies kills nothing.
function decoded(dir: string | undefined): string | undefined {
  try {
    return dir === undefined ? undefined : decodeURIComponent(dir)
  } catch {
    return undefined
  }
}

function gone({ dir }: Watched): void {
  try {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  } catch {
    // left behind, as it was before the watchdog knew of it
  }
}

function finish(): void {
  const ended = Date.now()
  const sweep = (): void => {
    for (const [pid, entry] of watched) {
      if (!isSameProcess(pid, entry.start)) {
        watched.delete(pid)
        gone(entry)
      } else if (Date.now() - ended >= entry.grace) {
        watched.delete(pid)
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone in the meantime
        }
        gone(entry)
      }
    }
    if (watched.size === 0) process.exit(0)
  }
  sweep()
  setInterval(sweep, POLL_MS)
}
