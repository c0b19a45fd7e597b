// Patches: how a change to part of a value travels. Immer produces and applies them; on the wire a
// patch is [op, path, value?] with op 0 replace, 1 add, 2 remove.
import { Immer, enablePatches, type Patch } from 'immer'
import { ErrorCode, ZStateError } from '../errors.ts'
import { adoptDecoded, toStoredValue } from './values.ts'

enablePatches()

// Drafts never freeze what callers put into them (writes store copies); applied results are frozen.
export const drafting = new Immer({ autoFreeze: false })
const applying = new Immer({ autoFreeze: true })

export type WirePatch = [op: 0 | 1 | 2, path: (string | number)[], value?: unknown]

const OPS = ['replace', 'add', 'remove'] as const
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

// Immer's patches to wire patches, validating and copying every value they carry.
export function toWirePatches(patches: readonly Patch[]): WirePatch[] {
  return patches.map((patch) => {
    const op = OPS.indexOf(patch.op)
    const { path } = patch
    return op === 2 ? [2, path] : [op as 0 | 1, path, toStoredValue(patch.value)]
  })
}

function bad(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `malformed patch: ${what}`)
}

// Checks decoded wire patches; values are adopted (frozen, binary as Uint8Array).
export function readWirePatches(raw: unknown): WirePatch[] {
  if (!Array.isArray(raw) || raw.length === 0) throw bad('expected a non-empty list')
  return raw.map((patch: unknown): WirePatch => {
    if (!Array.isArray(patch)) throw bad('expected [op, path, value?]')
    const [op, path] = patch as unknown[]
    if (op !== 0 && op !== 1 && op !== 2) throw bad(`unknown op ${String(op)}`)
    if (!Array.isArray(path) || path.length === 0) throw bad('path must be a non-empty list')
    for (const step of path as unknown[]) {
      const ok =
        (typeof step === 'string' && !FORBIDDEN.has(step)) ||
        (typeof step === 'number' && Number.isSafeInteger(step) && step >= 0)
      if (!ok) throw bad(`path step ${String(step)}`)
    }
    return op === 2
      ? [2, path as (string | number)[]]
      : [op, path as (string | number)[], adoptDecoded(patch[2])]
  })
}

// Applies wire patches to a value structurally: untouched parts are shared, new nodes frozen.
export function applyWirePatches(base: unknown, patches: readonly WirePatch[]): unknown {
  const immerPatches: Patch[] = patches.map(([op, path, value]) =>
    op === 2 ? { op: 'remove', path } : { op: OPS[op], path, value },
  )
  try {
    return applying.applyPatches(base as object, immerPatches)
  } catch (error) {
    throw new ZStateError(ErrorCode.INVALID_ARGUMENT, `patch does not apply: ${(error as Error).message}`, {
      cause: error,
    })
  }
}
