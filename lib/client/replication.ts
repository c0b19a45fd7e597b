// The replica's side of the connection (docs/architecture.md "Joining", "Keeping in sync and gap repair"): it joins each new link
// with a snapshot, or keeps what it holds when the server still has its epoch, takes the link's change
// stream (or, for a partial replica, its pushes), and after a rejoin catches up to where the server is.
import { abortable } from '../abort.ts'
import type { ZStateError } from '../errors.ts'
import type { Follower } from '../link/connection.ts'
import type { Link } from '../link/link.ts'
import type { Coverage } from './coverage.ts'
import type { Metrics } from './metrics.ts'
import { Synchronizer, type SyncSource } from './sync.ts'

export interface ReplicationEvents {
  // The replica was rebuilt from a snapshot while connected: history no longer covered a gap, or the
  // client rejoined a new epoch.
  reset(): void
  // The server behind `link` was replaced (a new epoch on the change stream).
  replaced(link: Link): void
  // What `link` delivered cannot be trusted (a partial replica's pushes broke their chain).
  broken(link: Link, reason: string): void
}

export class Replication implements Follower {
  readonly sync: Synchronizer
  readonly #counters: Metrics
  readonly #events: ReplicationEvents
  // Set by join() for resume(): whether it rebuilt the replica, and the resync count before it.
  #rebuilt = false
  #resyncsBefore = 0
  // Set when a link broke: the next join rebuilds the replica from a snapshot, whatever the epoch.
  #distrusted = false

  constructor(counters: Metrics, events: ReplicationEvents, coverage: Coverage) {
    this.#counters = counters
    this.#events = events
    this.sync = new Synchronizer(counters, coverage)
    this.sync.onResync = () => events.reset()
  }

  async join(link: Link, rejoin: boolean, signal: AbortSignal): Promise<void> {
    const sync = this.sync
    link.applied = () => sync.replica.revision
    const source: SyncSource = {
      session: link.hello.session,
      acknowledge: (requestId, payload) => link.channel.acknowledge(requestId, payload),
      history: (from, to) => link.history(from, to),
      snapshot: () => link.snapshot(),
      epochChanged: () => this.#events.replaced(link),
    }
    this.#resyncsBefore = this.#counters.resyncs
    this.#rebuilt = false
    // A server of the same epoch behind this replica lost revisions it had published (a data dir
    // restored from a backup, a lost log segment): what the replica holds past it is not the server's.
    const behind = link.hello.revision < sync.replica.revision
    if (!rejoin || link.hello.epoch !== sync.replica.epoch || this.#distrusted || behind) {
      const snapshot = await abortable(link.snapshot(), signal)
      sync.attach(source)
      sync.install(snapshot, rejoin)
      this.#rebuilt = rejoin
      this.#distrusted = false
    } else {
      sync.attach(source)
    }
    link.feed?.release({
      commits: (epoch, commits) => sync.receive(epoch, commits),
      heartbeat: (epoch, revision) => sync.known(epoch, revision),
    })
    link.pushes?.release({
      segment: (epoch, segment) => sync.segment(epoch, segment),
      broken: (error) => {
        this.#distrusted = true
        this.#events.broken(link, error.message)
      },
    })
  }

  async resume(link: Link, signal: AbortSignal): Promise<boolean> {
    if (this.#rebuilt) {
      this.#counters.resyncs++
      this.#events.reset()
      return false
    }
    await abortable(this.sync.reach(link.hello.revision), signal).catch(() => {})
    // A resync during the catch-up has already said 'reset'.
    return !signal.aborted && this.#counters.resyncs === this.#resyncsBefore
  }

  lost(): void {
    this.sync.detach()
  }

  close(error: ZStateError): void {
    this.sync.detach()
    this.sync.failWaiters(error)
    this.sync.observers.close(error)
  }
}
