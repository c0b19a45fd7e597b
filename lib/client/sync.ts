// Keeps the replica in step with the server: applies commits strictly in revision order, repairs
// gaps from the server's history, rebuilds from a snapshot when history is gone, and releases
// whoever waits for a revision (own writes, sync()). A partial replica keeps only the changes under
// its prefixes, and takes its commits as segments of its link's pushes (lib/link/pushes.ts).
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import type { Snapshot } from '../link/link.ts'
import type { Segment } from '../link/pushes.ts'
import type { WireChange, WireCommit } from '../protocol/ops.ts'
import { decoded } from '../protocol/undecoded.ts'
import { deepEqual } from '../protocol/values.ts'
import { debug } from '../debug.ts'
import { AheadCommits } from './ahead.ts'
import { Coverage } from './coverage.ts'
import type { Metrics } from './metrics.ts'
import { Observers } from './observers.ts'
import { Replica } from './replica.ts'

export interface SyncSource {
  // This connection's session: commits naming it acknowledge its writes.
  readonly session: number
  // Settles write `requestId` with [revision] or [revision, result], once the replica shows it.
  acknowledge(requestId: number, payload: unknown[]): void
  history(from: number, to: number): Promise<{ epoch: string; commits: WireCommit[] }>
  snapshot(): Promise<Snapshot>
  // The server changed epoch under us (a new server on the same address).
  epochChanged(): void
}

interface RevisionWaiter {
  revision: number
  resolve: () => void
  reject: (error: unknown) => void
}

// Changes applied before the next apply waits for the event loop to turn. Watch iterators consume in
// microtasks, one change per hop, and the link delivers a backlog in microtasks too (zeromq.js resolves
// up to 512 receives at once when messages are queued): without the wait a watcher falls behind by
// about a message's worth of changes with each message, to ERR_OVERFLOW at 10,000.
const CHANGES_PER_TURN = 1024

// How long a revision known to exist may be missing, with no progress, before it counts as a gap.
const GAP_GRACE_MS = 30

export class Synchronizer {
  readonly replica = new Replica()
  readonly observers = new Observers()
  // The keys this replica holds: all, or those under its prefixes.
  readonly coverage: Coverage
  readonly #metrics: Metrics
  #source: SyncSource | undefined
  // Commits not yet applied.
  readonly #ahead = new AheadCommits()
  // A partial replica's segments not yet applied, in the order its link delivered them.
  #segments: Segment[] = []
  #known = 0
  #waiting: RevisionWaiter[] = []
  #repairing: Promise<void> | undefined
  #graceTimer: NodeJS.Timeout | undefined
  #graceMark = -1
  #yielding = false
  // Changes applied since the last wait for the event loop.
  #appliedChanges = 0
  // Told when the replica was rebuilt while connected (history no longer covered a gap).
  onResync: () => void = () => {}

  constructor(metrics: Metrics, coverage = new Coverage(undefined)) {
    this.#metrics = metrics
    this.coverage = coverage
  }

  // While detached (joining), commits are only buffered.
  attach(source: SyncSource | undefined): void {
    this.#source = source
    if (source === undefined) {
      clearTimeout(this.#graceTimer)
      this.#graceTimer = undefined
    }
  }

  // Commits from PUB. A jump in PUB's sequence is certainly a loss: repair at once.
  receive(epoch: string, commits: readonly WireCommit[]): void {
    if (epoch !== this.replica.epoch) {
      if (this.#source !== undefined) this.#source.epochChanged()
      return
    }
    for (const commit of commits) this.#stash(commit)
    this.#advance()
    if (this.#ahead.gapAfter(this.replica.revision)) void this.#repair()
  }

  // A partial replica's pushes and vouched-for revisions, in order: each applies once the replica has
  // reached where it starts (at once, except while a rejoin catches up from history).
  segment(epoch: string, segment: Segment): void {
    if (epoch !== this.replica.epoch) {
      if (this.#source !== undefined) this.#source.epochChanged()
      return
    }
    this.#segments.push(segment)
    this.#advance()
    // One that starts beyond the replica: commits before the link's HELLO are missing (a rejoin).
    const first = this.#segments[0]
    if (first !== undefined && first.from > this.replica.revision) {
      if (first.from > this.#known) this.#known = first.from
      void this.#repair()
    }
  }

  // The server is at `revision` (heartbeat, sync reply): missing tails count as gaps after a grace.
  known(epoch: string, revision: number): void {
    if (epoch !== this.replica.epoch) {
      this.#source?.epochChanged()
      return
    }
    if (revision > this.#known) this.#known = revision
    this.#checkLag()
  }

  reach(revision: number): Promise<void> {
    if (revision <= this.replica.revision) return Promise.resolve()
    if (revision > this.#known) this.#known = revision
    this.#checkLag()
    return new Promise<void>((resolve, reject) => {
      const waiter = { revision, resolve, reject }
      let i = this.#waiting.length
      while (i > 0 && this.#waiting[i - 1]!.revision > revision) i--
      this.#waiting.splice(i, 0, waiter)
    })
  }

  // Rebuilds the replica from a fresh snapshot; pending waiters see it once, streams end.
  async resync(): Promise<void> {
    const source = this.#source
    if (source === undefined) return
    const snapshot = await source.snapshot()
    debug('resync: the history no longer covers the gap; snapshot at revision %d', snapshot.revision)
    this.install(snapshot, true)
    this.#metrics.resyncs++
    this.onResync()
  }

  // Adopts a snapshot (the first one on join, or after history ran out).
  install(snapshot: Snapshot, notify: boolean): void {
    if (snapshot.epoch !== this.replica.epoch) {
      // Revisions of another epoch mean nothing here: whoever waits for one has lost track.
      this.#ahead.clear()
      this.#known = 0
      this.failWaiters(
        new ZStateError(
          ErrorCode.DISCONNECTED,
          'the server was replaced (new epoch) before this commit became visible',
        ),
      )
    }
    const describe = notify && this.observers.active
    const changes = this.replica.reset(
      snapshot.epoch,
      snapshot.revision,
      snapshot.entries,
      describe ? (held, value) => deepEqual(decoded(held), value) : () => true,
    )
    this.#ahead.dropUpTo(snapshot.revision)
    if (this.#known < snapshot.revision) this.#known = snapshot.revision
    if (notify) this.observers.reset(snapshot.revision, describe ? changes : [])
    // Own writes whose commits the snapshot covers, their own commits perhaps missed.
    for (const [requestId, revision, ...result] of snapshot.acks)
      this.#source?.acknowledge(requestId, [revision, ...result])
    this.#advance()
  }

  failWaiters(error: unknown): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const waiter of waiting) waiter.reject(error)
  }

  // Forgets everything buffered (the server was lost); own writes in flight fail elsewhere.
  detach(): void {
    this.attach(undefined)
    this.#ahead.clear()
    this.#segments = []
  }

  #stash(commit: WireCommit): void {
    if (commit.revision <= this.replica.revision) return
    this.#ahead.add(commit, this.replica.revision)
    if (commit.revision > this.#known) this.#known = commit.revision
  }

  #advance(): void {
    if (this.#source === undefined || this.#yielding) return
    const replica = this.replica
    const source = this.#source
    for (;;) {
      if (this.#ahead.size === 0 || this.#spent()) break
      const commit = this.#ahead.take(replica.revision)
      if (commit === undefined) break
      this.#appliedChanges += commit.changes.length
      const { revision, origin } = commit
      this.#apply(revision, commit.changes)
      if (origin?.session !== source.session) continue
      if ('acks' in origin)
        for (const ack of origin.acks)
          source.acknowledge(ack[0] as number, ack.length === 2 ? [revision, ack[1]] : [revision])
      else source.acknowledge(origin.requestId, 'result' in origin ? [revision, origin.result] : [revision])
    }
    if (this.#segments.length > 0) this.#applySegments(source)
    let done = 0
    while (done < this.#waiting.length && this.#waiting[done]!.revision <= replica.revision)
      this.#waiting[done++]!.resolve()
    if (done > 0) this.#waiting = this.#waiting.slice(done)
    this.#checkLag()
  }

  // Whether this turn's changes are spent: if so, applying goes on once the event loop has turned.
  // Only a watch() stream needs the turn: without one, the changes a message brought are applied
  // as it is read, and the commits waiting behind a budget would only survive to be collected older.
  #spent(): boolean {
    if (!this.observers.streaming) this.#appliedChanges = 0
    if (this.#appliedChanges < CHANGES_PER_TURN) return false
    if (!this.#yielding) {
      this.#yielding = true
      setImmediate(() => {
        this.#yielding = false
        this.#appliedChanges = 0
        this.#advance()
      })
    }
    return true
  }

  #apply(revision: number, all: readonly WireChange[]): void {
    const replica = this.replica
    // A partial replica keeps what is under its prefixes; a commit with nothing of it still moves it on.
    const changes = this.coverage.changes(all)
    if (changes.length === 0) {
      replica.revision = revision
      return
    }
    const observers = this.observers
    if (!observers.active) return void replica.apply(revision, changes, undefined)
    const applied = replica.apply(revision, changes, observers.needsValue)
    // A clear of everything reaches every replica: one that held none of its keys saw no change.
    if (applied.length > 0) observers.revision(revision, applied)
  }

  // Applies the segments the replica has reached, in order; each settles the write it acknowledges.
  #applySegments(source: SyncSource): void {
    const replica = this.replica
    const segments = this.#segments
    let next = 0
    while (next < segments.length && segments[next]!.from <= replica.revision && !this.#spent()) {
      const { commits, upTo, settles } = segments[next++]!
      for (const commit of commits)
        if (commit.revision > replica.revision) {
          this.#appliedChanges += commit.changes.length
          this.#apply(commit.revision, commit.changes)
        }
      if (upTo > replica.revision) replica.revision = upTo
      if (settles !== undefined) source.acknowledge(settles[0], settles[1])
    }
    if (next === 0) return
    this.#segments = next === segments.length ? [] : segments.slice(next)
    // History commits a rejoin fetched that the pushes have overtaken.
    this.#ahead.dropUpTo(replica.revision)
  }

  #checkLag(): void {
    if (this.#source === undefined || this.#known <= this.replica.revision || this.#graceTimer !== undefined)
      return
    this.#graceMark = this.replica.revision
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined
      if (this.#known <= this.replica.revision) return
      if (this.replica.revision === this.#graceMark) void this.#repair()
      else this.#checkLag()
    }, GAP_GRACE_MS)
  }

  // Fetches what is missing from history, page by page; a compacted history means a snapshot.
  #repair(): Promise<void> {
    this.#repairing ??= this.#runRepair().finally(() => {
      this.#repairing = undefined
      this.#checkLag()
    })
    return this.#repairing
  }

  async #runRepair(): Promise<void> {
    let repaired = false
    while (this.#source !== undefined && this.replica.revision < this.#target()) {
      const source = this.#source
      const from = this.replica.revision + 1
      debug('gap repair: history %d..%d', from, this.#target())
      try {
        const page = await source.history(from, this.#target())
        if (page.epoch !== this.replica.epoch) return source.epochChanged()
        if (page.commits.length === 0) return
        for (const commit of page.commits) this.#stash(commit)
        this.#advance()
        repaired = true
      } catch (error) {
        if (isZStateError(error) && error.code === ErrorCode.COMPACTED) {
          try {
            await this.resync()
          } catch {
            return
          }
          continue
        }
        return // lost server or closed: the connection takes over
      }
    }
    if (repaired) this.#metrics.gapsRepaired++
  }

  // The last revision of the first missing run: what the earliest commit waiting follows.
  #target(): number {
    return this.#ahead.firstFollowed() ?? this.#known
  }
}
