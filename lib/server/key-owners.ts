// Which session owns each ephemeral key: the one whose write made it ephemeral. When that session
// ends, its keys still owned are deleted in one commit; any other write of a key ends its ownership.
import { ChangeKind, type WireChange } from '../protocol/ops.ts'

export class KeyOwners<S> {
  readonly #owner = new Map<string, S>()
  readonly #keys = new Map<S, Set<string>>()

  // A commit by `session` (undefined: the server's own): its ephemeral sets are now this session's,
  // every other key it touches is nobody's.
  commit(changes: readonly WireChange[], session: S | undefined): void {
    for (const change of changes) {
      if (change[1] === ChangeKind.CLEAR) {
        this.#owner.clear()
        this.#keys.clear()
      } else if (change[1] === ChangeKind.SET && change.length === 4 && change[3][0] && session !== undefined)
        this.#claim(change[0], session)
      else this.#release(change[0])
    }
  }

  // The session ended: the keys it still owns, now owned by nobody.
  end(session: S): string[] {
    const keys = this.#keys.get(session)
    if (keys === undefined) return []
    this.#keys.delete(session)
    for (const key of keys) this.#owner.delete(key)
    return [...keys]
  }

  #claim(key: string, session: S): void {
    this.#release(key)
    this.#owner.set(key, session)
    let keys = this.#keys.get(session)
    if (keys === undefined) this.#keys.set(session, (keys = new Set()))
    keys.add(key)
  }

  #release(key: string): void {
    const owner = this.#owner.get(key)
    if (owner === undefined) return
    this.#owner.delete(key)
    this.#keys.get(owner)?.delete(key)
  }
}
