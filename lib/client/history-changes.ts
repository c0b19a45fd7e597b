// Turns replayed history commits into Change records for watch({ fromRevision }).
// Only the replayed range is known: `previous` is undefined for a key's first replayed change, and
// a replayed clear reports the keys the range itself had written. A patch needs the value it was
// made from: for a key whose first replayed change is one, that value (its base) comes from the
// history before the range (bases()).
import { ErrorCode, ZStateError, isZStateError } from '../errors.ts'
import { ChangeKind, type WireCommit } from '../protocol/ops.ts'
import { applyWirePatches } from '../protocol/patches.ts'
import { decoded } from '../protocol/undecoded.ts'
import type { Change } from './replica.ts'

// `bases`: the value of each key before the first commit (absent keys: undefined), for the keys
// whose first change is a patch.
export function* changesOf(
  commits: readonly WireCommit[],
  bases: ReadonlyMap<string, unknown> = new Map(),
): Generator<Change> {
  const known = new Map<string, unknown>(bases)
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
        // Without a base (a key the caller did not ask bases for) its value is not known.
        const previous = known.get(key!)
        const value = known.has(key!) ? applyWirePatches(previous, change[2]) : undefined
        yield { key: key!, value, previous, deleted: false, revision }
        if (known.has(key!)) known.set(key!, value)
      } else if (change[1] === ChangeKind.CLEAR) {
        for (const [k, previous] of known)
          if (previous !== undefined) yield { key: k, value: undefined, previous, deleted: true, revision }
        known.clear()
      }
    }
  }
}

// The keys (of those `wanted`) whose first change in `commits` is a patch: their value before the
// range is needed to replay it. A clear before it makes every key's known (absent).
export function unbased(commits: readonly WireCommit[], wanted: (key: string) => boolean): Set<string> {
  const seen = new Set<string>()
  const needed = new Set<string>()
  for (const { changes } of commits)
    for (const [key, kind] of changes) {
      if (kind === ChangeKind.CLEAR) return needed
      if (seen.has(key)) continue
      seen.add(key)
      if (kind === ChangeKind.PATCH && wanted(key)) needed.add(key)
    }
  return needed
}

// History from..to, in as many requests as the server's reply budget needs.
export type History = (from: number, to: number) => Promise<WireCommit[]>

// How far back bases() reaches at first, in revisions; each step back goes twice as far.
const FIRST_STEP = 1024

// The value of each of `keys` just before revision `before`, worked out from the history before it:
// forward from each key's last whole write (set, delete, clear). The history is read backwards, a
// step at a time, until every key's last whole write is in it; ERR_COMPACTED when the server's
// history no longer reaches back to one (the patches after it cannot be replayed).
export async function bases(
  history: History,
  before: number,
  keys: ReadonlySet<string>,
): Promise<Map<string, unknown>> {
  let earlier: WireCommit[] = []
  let found: ReadonlySet<string> = new Set()
  let from = before
  for (let step = FIRST_STEP; from > 1 && found.size < keys.size; step *= 2) {
    const to = from - 1
    const start = Math.max(1, from - step)
    const { commits, oldest } = await loadFrom(history, start, to)
    earlier = [...commits, ...earlier]
    found = written(earlier, keys)
    if (oldest) break
    from = start
  }
  const values = new Map<string, unknown>()
  for (const change of changesOf(earlier)) if (keys.has(change.key)) values.set(change.key, change.value)
  const missing = [...keys].filter((key) => !found.has(key))
  if (missing.length > 0)
    throw new ZStateError(
      ErrorCode.COMPACTED,
      `watch: the server's history no longer holds the last whole write of ${JSON.stringify(missing[0])}, which the replayed changes patch (replay from a later revision)`,
    )
  for (const key of keys) if (!values.has(key)) values.set(key, undefined)
  return values
}

// Those of `keys` that have a whole write (set, delete, clear) in `commits`.
function written(commits: readonly WireCommit[], keys: ReadonlySet<string>): ReadonlySet<string> {
  const found = new Set<string>()
  for (const { changes } of commits)
    for (const [key, kind] of changes) {
      if (kind === ChangeKind.CLEAR) return keys
      if (kind !== ChangeKind.PATCH && keys.has(key)) found.add(key)
    }
  return found
}

// History start..to, or from the server's oldest revision on when it no longer has `start` (oldest:
// nothing before these can be read).
async function loadFrom(
  history: History,
  start: number,
  to: number,
): Promise<{ commits: WireCommit[]; oldest: boolean }> {
  try {
    return { commits: await load(history, start, to), oldest: start === 1 }
  } catch (error) {
    if (!compacted(error)) throw error
  }
  // The oldest revision it has lies in start+1..to: found by halving, one small request each.
  let low = start + 1
  let high = to + 1
  while (low < high) {
    const middle = (low + high) >>> 1
    const kept = await history(middle, middle).then(
      () => true,
      (error: unknown) => {
        if (compacted(error)) return false
        throw error
      },
    )
    if (kept) high = middle
    else low = middle + 1
  }
  return { commits: low > to ? [] : await load(history, low, to), oldest: true }
}

function compacted(error: unknown): boolean {
  return isZStateError(error) && error.code === ErrorCode.COMPACTED
}

// The server's history from `from` to `to`, in as many requests as its reply budget needs.
export async function load(history: History, from: number, to: number): Promise<WireCommit[]> {
  const all: WireCommit[] = []
  while (from <= to) {
    const commits = await history(from, to)
    if (commits.length === 0) break
    all.push(...commits)
    from = commits[commits.length - 1]!.revision + 1
  }
  return all
}
