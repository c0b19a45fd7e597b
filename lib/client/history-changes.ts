// Turns replayed history commits into Change records for watch({ fromRevision }).
// Only the replayed range is known: `previous` is undefined for a key's first replayed change,
// a replayed patch has a value only when the key was written earlier in the range, and a
// replayed clear reports the keys the range itself had written.
import { ChangeKind, type WireCommit } from '../protocol/ops.ts'
import { applyWirePatches } from '../protocol/patches.ts'
import { decoded } from '../protocol/undecoded.ts'
import type { Change } from './replica.ts'

export function* changesOf(commits: readonly WireCommit[]): Generator<Change> {
  const known = new Map<string, unknown>()
  for (const { revision, changes } of commits) {
    for (const change of changes) {
      const key = change[0]
      if (change[1] === ChangeKind.SET) {
        const value = decoded(change[2])
        yield { key: key!, value, previous: known.get(key!), deleted: false, revision }
        known.set(key!, value)
      } else if (change[1] === ChangeKind.DELETE) {
        yield { key: key!, value: undefined, previous: known.get(key!), deleted: true, revision }
        known.delete(key!)
      } else if (change[1] === ChangeKind.PATCH) {
        const previous = known.get(key!)
        const value = known.has(key!) ? applyWirePatches(previous, change[2]) : undefined
        yield { key: key!, value, previous, deleted: false, revision }
        if (known.has(key!)) known.set(key!, value)
      } else if (change[1] === ChangeKind.CLEAR) {
        for (const [k, previous] of known)
          yield { key: k, value: undefined, previous, deleted: true, revision }
        known.clear()
      }
    }
  }
}
