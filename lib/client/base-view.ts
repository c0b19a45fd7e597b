// The replica as it was at one revision while newer commits arrive: for a transaction whose function
// awaits, and behind every state.snapshot(). Old values come from the replica's undo log, which
// keeps them while this view is open.
import type { DraftSource } from '../protocol/draft.ts'
import type { UndoLog } from './undo-log.ts'

export class BaseView implements DraftSource {
  readonly revision: number
  readonly epoch: string
  readonly #log: UndoLog
  readonly #resyncs: { readonly count: number }
  readonly #resyncsAtOpen: number
  #open = true

  constructor(log: UndoLog, epoch: string, revision: number, resyncs: { readonly count: number }) {
    this.#log = log
    this.epoch = epoch
    this.revision = revision
    this.#resyncs = resyncs
    this.#resyncsAtOpen = resyncs.count
    log.open(revision)
  }

  // Set when the replica was rebuilt from a snapshot: the base is gone, the transaction retries.
  get broken(): boolean {
    return this.#resyncs.count !== this.#resyncsAtOpen
  }

  get(key: string): unknown {
    return this.#log.get(key, this.revision)
  }

  has(key: string): boolean {
    return this.#log.has(key, this.revision)
  }

  keys(): Generator<string, undefined, undefined> {
    return this.#log.keys(this.revision)
  }

  // The replica stops keeping old values for this view; reads afterwards may see newer ones.
  close(): void {
    if (!this.#open) return
    this.#open = false
    this.#log.close(this.revision)
  }
}
