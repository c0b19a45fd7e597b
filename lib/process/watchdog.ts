// A context's watchdog: a tiny process (watchdog-main.ts) that SIGKILLs the processes this context
// started once this process is gone, however it died, even ones whose event loop is too busy to
// notice. It is tied to this process by its stdin, a pipe the kernel closes when this process ends,
// and learns the pids (and start times) of what to kill over that pipe only, never over the network:
// no request to any server can make anything signal a process. Started on first use, so a context
// that starts no process pays nothing; detached (a terminal's Ctrl-C does not reach it before it
// acts) and unref'd (it never keeps this process alive).
import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { processStart } from '../host.ts'
import { childExecArgv, entryUrl } from './launch.ts'

// How long close() waits for the watchdog to exit: it does so as soon as it reads the end of its pipe.
const EXIT_WAIT_MS = 1_000

// What the watchdog is told of a watched process (see watchdog-main.ts for the line it becomes).
interface Watched {
  readonly start: number
  readonly grace: number
  dir?: string
}

function lineOf(pid: number, { start, grace, dir }: Watched): string {
  return `+${pid} ${start} ${grace}${dir === undefined ? '' : ` ${encodeURIComponent(dir)}`}\n`
}

export class Watchdog {
  // Every watched process that has not exited yet.
  readonly #watched = new Map<number, Watched>()
  #process: ChildProcess | undefined
  #closed = false

  // Watches a process this context has just started, until it exits. Once this process is gone, it
  // is killed at once, or after `grace` ms if it has not exited by itself by then.
  watch(child: ChildProcess, grace = 0): void {
    const pid = child.pid
    if (this.#closed || pid === undefined) return
    const start = processStart(pid)
    if (start === undefined) return // already gone
    const watched = { start, grace }
    this.#watched.set(pid, watched)
    if (this.#process === undefined) this.#start()
    else this.#write(lineOf(pid, watched))
    child.once('exit', () => {
      if (this.#watched.delete(pid)) this.#write(`-${pid}\n`)
    })
  }

  // The watchdog also removes `dir` once `child` is gone (killed, or exited by itself): the private
  // ipc dir of a server that cannot remove it when it is killed.
  removesAfter(child: ChildProcess, dir: string): void {
    const pid = child.pid
    const watched = pid === undefined ? undefined : this.#watched.get(pid)
    if (watched === undefined) return
    watched.dir = dir
    this.#write(lineOf(pid!, watched))
  }

  // The context has stopped its processes: the watchdog exits (killing any it still watches).
  async close(): Promise<void> {
    this.#closed = true
    const watchdog = this.#process
    this.#process = undefined
    if (watchdog === undefined) return
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>((resolve) => {
      if (watchdog.exitCode !== null || watchdog.signalCode !== null) return resolve()
      // Waited for now, so it must keep this process alive until it has exited.
      watchdog.ref()
      watchdog.once('exit', () => resolve())
      timer = setTimeout(resolve, EXIT_WAIT_MS)
      watchdog.stdin?.end()
    })
    clearTimeout(timer)
  }

  // Starts the watchdog with every process watched so far (one that died is replaced this way).
  #start(): void {
    const env = { ...process.env }
    delete env['NODE_OPTIONS'] // the user's preloads and debugger flags are not for the watchdog
    const watchdog = spawn(
      process.execPath,
      [...childExecArgv([]), fileURLToPath(entryUrl('watchdog-main'))],
      { env, stdio: ['pipe', 'ignore', 'ignore'], detached: true, windowsHide: true },
    )
    watchdog.unref()
    const stdin = watchdog.stdin as Socket
    stdin.unref()
    // A watchdog that could not start or died (EPIPE): the next watch() starts another.
    stdin.on('error', () => {})
    watchdog.on('error', () => this.#lost(watchdog))
    watchdog.once('exit', () => this.#lost(watchdog))
    this.#process = watchdog
    this.#write([...this.#watched].map(([pid, watched]) => lineOf(pid, watched)).join(''))
  }

  #lost(watchdog: ChildProcess): void {
    if (this.#process === watchdog) this.#process = undefined
  }

  #write(lines: string): void {
    const stdin = this.#process?.stdin
    if (stdin?.writable === true) stdin.write(lines)
  }
}
