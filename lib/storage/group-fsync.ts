// Group commit for the log (lib/storage/log-writer.ts): at most one fsync in flight; whoever asks
// while one runs shares the next, which covers everything written before it starts. Also the
// 'interval' policy's timer.
import { deferred, type Deferred } from '../deferred.ts'

export class GroupFsync {
  // One fsync of what is written so far (and its bookkeeping); rejects with ERR_STORAGE.
  readonly #run: () => Promise<void>
  readonly #onTimerError: (error: unknown) => void
  #inFlight: Promise<void> | undefined
  #next: Deferred<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(run: () => Promise<void>, onTimerError: (error: unknown) => void) {
    this.#run = run
    this.#onTimerError = onTimerError
  }

  get busy(): boolean {
    return this.#inFlight !== undefined
  }

  // Resolves once an fsync that started after this call has finished.
  request(): Promise<void> {
    if (this.#inFlight === undefined) return this.#start()
    // The one in flight may have started before what the caller wrote.
    this.#next ??= deferred<void>()
    return this.#next.promise
  }

  // An fsync at most `ms` from now, unless one is already due; the timer keeps no process alive.
  soon(ms: number): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.request().catch(this.#onTimerError)
    }, ms)
    this.#timer.unref()
  }

  // Resolves once no fsync is in flight or queued (whatever their outcome); no timer fires after.
  async settled(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    while (this.#inFlight !== undefined) await this.#inFlight.catch(() => {})
  }

  #start(): Promise<void> {
    const running = this.#run().finally(() => {
      this.#inFlight = undefined
      const next = this.#next
      this.#next = undefined
      if (next !== undefined) this.#start().then(next.resolve, next.reject)
    })
    this.#inFlight = running
    return running
  }
}
