// Warm children (createContext({ pool })): bootstrap processes started ahead, with the context's
// environment, that have loaded zstate and wait for a job. A spawn or map worker whose environment,
// Node flags and working directory match takes one instead of starting a process. Each runs one job
// and exits like any child, so nothing of one target reaches another; the pool starts replacements
// once spawning has paused. They die with this process as every child does (the watchdog, and their
// IPC channel closing).
import type { ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { deferred, type Deferred } from '../deferred.ts'
import type { ToChild } from './messages.ts'
import type { Watchdog } from './watchdog.ts'
import { hasLimit } from '../timer-limit.ts'

export interface PoolOptions {
  // Warm children kept ready.
  readonly size: number
  // ms a warm child may wait for a job before it is let go (and not replaced until the next take).
  readonly idleTimeout: number
  // Node flags of the warm children (as spawn's execArgv); undefined: the default a child gets.
  readonly execArgv: readonly string[] | undefined
}

// What a warm child was started with: a request must match it to take one.
export interface Launch {
  readonly env: Readonly<Record<string, string>>
  readonly execArgv: readonly string[]
}

interface Warm {
  readonly child: ChildProcess
  readonly launch: Launch
  readonly cwd: string
  loaded: boolean
  idle: NodeJS.Timeout | undefined
  readonly detach: () => void
}

// Replacements start once no child was taken for this long: a burst of spawns is not slowed by the
// pool refilling itself under it.
const REFILL_DELAY_MS = 250

// Children loading at once while the pool fills. A fork blocks this process's event loop (tens of ms
// on a busy machine) and a load takes a core, so the pool fills a few at a time, one fork per turn
// of the loop: forking 20 at once held the loop for most of a second, and its own children's exits
// and output waited behind it.
const LOADING_AT_ONCE = Math.max(2, availableParallelism())

export class WarmPool {
  readonly #options: PoolOptions
  readonly #start: (launch: Launch) => ChildProcess
  readonly #launch: () => Launch
  readonly #watchdog: Watchdog
  readonly #warm = new Set<Warm>()
  #refill: NodeJS.Timeout | undefined
  // Children the current fill has still to start, and whether its next fork is scheduled.
  #wanted = 0
  #stepping = false
  #filled: Deferred<void> | undefined
  #closed = false

  // `start` forks a bootstrap; `launch` is what a child of the context gets by default.
  constructor(
    options: PoolOptions,
    start: (launch: Launch) => ChildProcess,
    launch: () => Launch,
    watchdog: Watchdog,
  ) {
    this.#options = options
    this.#start = start
    this.#launch = launch
    this.#watchdog = watchdog
    this.#fill()
  }

  // The pids of the warm children (for specs and `zstate top`-like listings).
  get pids(): number[] {
    return [...this.#warm].flatMap(({ child }) => (child.pid === undefined ? [] : [child.pid]))
  }

  // Resolves once the pool has filled: no refill is due and no warm child is still loading (so it
  // holds `size` loaded children, unless some have gone idle or died meanwhile).
  ready(): Promise<void> {
    if (this.#settled()) return Promise.resolve()
    this.#filled ??= deferred<void>()
    return this.#filled.promise
  }

  // A warm child started as `launch` asks, from this working directory; undefined when none fits.
  take(launch: Launch): ChildProcess | undefined {
    if (this.#closed) return undefined
    const cwd = process.cwd()
    for (const warm of this.#warm) {
      if (warm.cwd !== cwd || !sameLaunch(warm.launch, launch)) continue
      this.#forget(warm)
      this.#scheduleRefill()
      return warm.child
    }
    this.#scheduleRefill()
    return undefined
  }

  // Lets every warm child go: closing its IPC channel makes the bootstrap exit.
  close(): void {
    this.#closed = true
    clearTimeout(this.#refill)
    this.#refill = undefined
    this.#wanted = 0
    for (const warm of [...this.#warm]) this.#dismiss(warm)
    this.#resolveFilled()
  }

  #resolveFilled(): void {
    this.#filled?.resolve()
    this.#filled = undefined
  }

  #fill(): void {
    if (this.#closed) return
    this.#wanted = Math.max(0, this.#options.size - this.#warm.size)
    this.#step()
  }

  // Starts the fill's next child in a turn of its own, once fewer than LOADING_AT_ONCE are loading.
  #step(): void {
    if (this.#stepping || this.#wanted === 0 || this.#loading() >= LOADING_AT_ONCE) return
    this.#stepping = true
    setImmediate(() => {
      this.#stepping = false
      if (this.#closed || this.#wanted === 0 || this.#loading() >= LOADING_AT_ONCE) return
      this.#wanted--
      this.#add(this.#launch())
      this.#step()
    })
  }

  #loading(): number {
    let loading = 0
    for (const warm of this.#warm) if (!warm.loaded) loading++
    return loading
  }

  #scheduleRefill(): void {
    if (this.#closed) return
    // A fill under way pauses too: the refill works out again what is missing.
    this.#wanted = 0
    clearTimeout(this.#refill)
    this.#refill = setTimeout(() => {
      this.#refill = undefined
      this.#fill()
      if (this.#settled()) this.#resolveFilled()
    }, REFILL_DELAY_MS)
    this.#refill.unref()
  }

  #add(launch: Launch): void {
    const child = this.#start(launch)
    this.#watchdog.watch(child)
    // A child loads zstate's client only for a job that needs it; a warm one is there to start any.
    child.send({ t: 'warm-up' } satisfies ToChild)
    const onMessage = (message: unknown): void => {
      if ((message as { t?: unknown } | null)?.t !== 'warm') return
      warm.loaded = true
      if (hasLimit(this.#options.idleTimeout)) {
        warm.idle = setTimeout(() => this.#dismiss(warm), this.#options.idleTimeout)
        warm.idle.unref()
      }
      if (this.#settled()) this.#resolveFilled()
      else this.#step()
    }
    const onExit = (): void => this.#forget(warm)
    const warm: Warm = {
      child,
      launch,
      cwd: process.cwd(),
      loaded: false,
      idle: undefined,
      detach: () => {
        child.off('message', onMessage)
        child.off('exit', onExit)
      },
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    // An idle warm child keeps nothing alive: only a taken one is a child the context waits for.
    child.unref()
    child.channel?.unref()
    this.#warm.add(warm)
  }

  #forget(warm: Warm): void {
    if (!this.#warm.delete(warm)) return
    clearTimeout(warm.idle)
    warm.detach()
    warm.child.ref()
    warm.child.channel?.ref()
    // One that died loading no longer holds the pool back.
    if (this.#settled()) this.#resolveFilled()
    else this.#step()
  }

  #dismiss(warm: Warm): void {
    this.#forget(warm)
    if (warm.child.connected) warm.child.disconnect()
  }

  #settled(): boolean {
    if (this.#closed) return true
    if (this.#refill !== undefined || this.#wanted > 0) return false
    for (const warm of this.#warm) if (!warm.loaded) return false
    return true
  }
}

function sameLaunch(a: Launch, b: Launch): boolean {
  if (a.execArgv.length !== b.execArgv.length || a.execArgv.some((flag, i) => flag !== b.execArgv[i]))
    return false
  const keys = Object.keys(a.env)
  if (keys.length !== Object.keys(b.env).length) return false
  return keys.every((key) => a.env[key] === b.env[key])
}
