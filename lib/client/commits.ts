// Reads commits sent by the server (PUB and history pages), checking their shape.
import { ErrorCode, ZStateError } from '../errors.ts'
import { ChangeKind, type WireChange, type WireCommit } from '../protocol/ops.ts'
import { readWirePatches } from '../protocol/patches.ts'
import { adoptDecoded } from '../protocol/values.ts'

function bad(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `server sent a malformed ${what}`)
}

export function readChange(raw: unknown): WireChange {
  if (!Array.isArray(raw)) throw bad('change')
  const [key, kind] = raw
  if (kind === ChangeKind.CLEAR) return [null, ChangeKind.CLEAR]
  if (typeof key !== 'string') throw bad('change key')
  if (kind === ChangeKind.SET) return [key, ChangeKind.SET, adoptDecoded(raw[2])]
  if (kind === ChangeKind.DELETE) return [key, ChangeKind.DELETE]
  if (kind === ChangeKind.PATCH) return [key, ChangeKind.PATCH, readWirePatches(raw[2])]
  throw bad('change kind')
}

export function readCommits(raw: unknown): WireCommit[] {
  if (!Array.isArray(raw)) throw bad('commit list')
  return raw.map((commit: unknown) => {
    if (!Array.isArray(commit) || typeof commit[0] !== 'number' || !Array.isArray(commit[1]))
      throw bad('commit')
    return [commit[0], (commit[1] as unknown[]).map(readChange)] as const
  })
}
