// Which session owns each ephemeral key: the one whose write made it ephemeral. When that session
// ends, its keys still owned are deleted in one commit; any other write of a key ends its ownership.
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { Groups } from './groups.ts'

export class KeyOwners<S> {
  // Keys grouped by the session that owns them.
  readonly #owned = new Groups<S, string>()

  // A commit by `session` (undefined: the server's own): its ephemeral sets are now this session's,
  // every other key it touches is nobody's.
  commit(changes: readonly WireChange[], session: S | undefined): void {
    for (const change of changes) {
      if (change[1] === ChangeKind.CLEAR) this.#owned.clear()
      else if (change[1] === ChangeKind.SET && change.length === 4 && change[3][0] && session !== undefined)
        this.#owned.put(change[0], session)
      else this.#owned.remove(change[0])
    }
  }

  // The session ended: the keys it still owns, now owned by nobody.
  end(session: S): string[] {
    return this.#owned.take(session)
  }
}
