// Commits on disk before anyone hears of them (docs/durability.md). Each finished turn goes to the
// write-ahead log first. With fsync 'always' its output (published commits and every reply, reads
// included, so nothing shows a state the disk may not have) waits for the fsync that covers it: one
// fsync per batch of turns, on the thread pool while the loop goes on serving (group commit), or on
// the loop itself when it has nothing else to do. A turn the log refused,
// or whose fsync failed, is never heard of: `failed` gets it, and every turn after it still waiting.
import type { FsyncPolicy } from './options.ts'
import type { TurnOutput } from './turn.ts'

// The write-ahead log as the gate uses it (lib/storage/log-writer.ts).
export interface CommitLog {
  // Writes one turn's commits (no fsync); throws ERR_STORAGE, leaving nothing of them, when it cannot.
  append(commits: Buffer[]): void
  // Resolves once everything appended so far is fsynced; rejects with ERR_STORAGE.
  durable(): Promise<void>
  // The same fsync on this thread, at once; false when one is in flight. Throws ERR_STORAGE.
  syncNow(): boolean
  // After a failed fsync: cuts the log back to what the last good fsync covered; the revision it
  // then ends at. Nothing to do (the log's revision) when nothing failed.
  rewind(): number
  // The commit path's fsyncs so far and their total duration (STATS).
  readonly fsyncTally: { readonly fsyncs: number; readonly fsyncSeconds: number }
}

export interface GateHooks {
  // Whether the loop has nothing else to do: an fsync then runs on it rather than on the thread pool.
  idle(): boolean
  // Sends an output that may now be heard of.
  release(output: TurnOutput): void
  // Outputs that never happened, in order: the first one's turn could not be logged or synced.
  failed(outputs: TurnOutput[], error: unknown): void
}

export class DurableGate {
  readonly #log: CommitLog
  readonly #gated: boolean
  readonly #hooks: GateHooks
  // Outputs logged and waiting for their fsync, in turn order.
  #waiting: TurnOutput[] = []
  // The loop that fsyncs and releases them, while it runs (it may finish before it returns).
  #syncing = false
  #synced: Promise<void> = Promise.resolve()

  constructor(log: CommitLog, fsync: FsyncPolicy, hooks: GateHooks) {
    this.#log = log
    this.#gated = fsync === 'always'
    this.#hooks = hooks
  }

  // A finished turn: logged, then released at once, or after its fsync under 'always'.
  deliver(output: TurnOutput): void {
    if (output.commits.length > 0) {
      try {
        this.#log.append(output.commits)
      } catch (error) {
        // Turns already logged keep their place: only this one (and nothing after it yet) failed.
        return this.#hooks.failed([output], error)
      }
    }
    if (!this.#gated || (this.#waiting.length === 0 && output.commits.length === 0))
      return this.#hooks.release(output)
    this.#waiting.push(output)
    if (this.#syncing) return
    this.#syncing = true
    this.#synced = this.#sync()
  }

  // Resolves once every output delivered so far has been released or failed.
  settled(): Promise<void> {
    return this.#synced
  }

  async #sync(): Promise<void> {
    while (this.#waiting.length > 0) {
      // What was logged before this fsync started is what it covers.
      const covered = this.#waiting.length
      try {
        if (!(this.#hooks.idle() && this.#log.syncNow())) await this.#log.durable()
      } catch (error) {
        const failed = this.#waiting
        this.#waiting = []
        this.#log.rewind()
        this.#hooks.failed(failed, error)
        break
      }
      for (const output of this.#waiting.splice(0, covered)) this.#hooks.release(output)
    }
    this.#syncing = false
  }
}
