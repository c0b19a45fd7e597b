// Partial sessions (docs/protocol.md "Partial sessions"): a session that named key prefixes in HELLO
// gets no commits on PUB. When a turn ends it gets one push ahead of its replies of that turn, with
// the turn's commits cut to its prefixes. Its ROUTER channel is ordered and never silently lossy (a
// peer that stops reading is forgotten and joins again), so there are no gaps to repair.
import { encodeWithItems } from '../protocol/codec.ts'
import { ChangeKind, NO_REPLY, Push, type WireChange } from '../protocol/ops.ts'
import { encodeChange } from './change-encoding.ts'
import type { Session } from './sessions.ts'

interface TurnCommit {
  readonly revision: number
  readonly changes: readonly WireChange[]
  // Each change encoded at most once per turn, when a session first needs it.
  readonly encoded: (Buffer | undefined)[]
}

// Where a push goes: at the head of the session's replies of the turn (lib/server/turn.ts).
export interface PushTarget {
  first(session: Session, entry: Buffer): void
}

export class Pushes {
  // The store's epoch, read when sending: a data dir that lost published commits starts a new one.
  readonly #epoch: () => string
  readonly #sessions: ReadonlySet<Session>
  #commits: TurnCommit[] = []

  // `sessions`: the partial ones, kept up to date by lib/server/sessions.ts.
  constructor(epoch: () => string, sessions: ReadonlySet<Session>) {
    this.#epoch = epoch
    this.#sessions = sessions
  }

  // A commit of this turn; remembered only while some session is partial.
  commit(revision: number, changes: readonly WireChange[]): void {
    if (this.#sessions.size > 0) this.#commits.push({ revision, changes, encoded: [] })
  }

  // The turn ends at revision `upTo`. A change costs O(log prefixes) per partial session (at most
  // 256 prefixes, lib/protocol/prefixes.ts), and nothing for a session that replicates nothing.
  end(target: PushTarget, upTo: number): void {
    const commits = this.#commits
    if (commits.length === 0) return
    this.#commits = []
    for (const session of this.#sessions) {
      const prefixes = session.replicate
      if (prefixes === undefined || prefixes.none) continue
      const items: Buffer[] = []
      let bytes = 0
      let previous = session.pushed
      for (const commit of commits) {
        // Commits before its HELLO (earlier in the same turn) are in its snapshot.
        if (commit.revision <= session.pushed) continue
        const changes: Buffer[] = []
        let changeBytes = 0
        commit.changes.forEach((change, i) => {
          // A clear of everything ([null, CLEAR]) is everyone's; a scoped clear is one delete per key.
          if (change[1] !== ChangeKind.CLEAR && !prefixes.covers(change[0])) return
          const encoded = (commit.encoded[i] ??= encodeChange(change))
          changes.push(encoded)
          changeBytes += encoded.length
        })
        if (changes.length === 0) continue
        const item = encodeWithItems([commit.revision, previous], changes, changeBytes)
        items.push(item)
        bytes += item.length
        previous = commit.revision
      }
      if (items.length === 0) continue
      session.pushed = upTo
      target.first(session, encodeWithItems([NO_REPLY, Push.COMMITS, this.#epoch(), upTo], items, bytes))
    }
  }

  clear(): void {
    this.#commits = []
  }
}
