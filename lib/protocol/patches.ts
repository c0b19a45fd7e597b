// Patches: how a change to part of a value travels. Immer produces and applies them; on the wire a
// patch is [op, path, value?] with op 0 replace, 1 add, 2 remove.
import type { Patch } from 'immer'
import { ErrorCode, ZStateError } from '../errors.ts'
import { isList } from './frames.ts'
import { immer } from './immer.ts'
import { LONE_SURROGATE, adoptDecoded, describe, toStoredValueAt, unencodable } from './values.ts'

export type WirePatch = [op: 0 | 1 | 2, path: (string | number)[], value?: unknown]

const OPS = ['replace', 'add', 'remove'] as const
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

// Immer's patches to wire patches, validating and copying every value they carry (at the depth the
// path puts it).
export function toWirePatches(patches: readonly Patch[]): WirePatch[] {
  return patches.map((patch) => {
    const op = OPS.indexOf(patch.op)
    const { path } = patch
    return op === 2 ? [2, path] : [op as 0 | 1, path, toStoredValueAt(patch.value, path)]
  })
}

function bad(what: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, `malformed patch: ${what}`)
}

// Checks decoded wire patches; values are adopted (frozen, binary as Uint8Array).
export function readWirePatches(raw: unknown): WirePatch[] {
  if (!isList(raw) || raw.length === 0) throw bad('expected a non-empty list')
  return raw.map((patch): WirePatch => {
    if (!isList(patch)) throw bad('expected [op, path, value?]')
    const [op, path] = patch
    if (op !== 0 && op !== 1 && op !== 2) throw bad(`unknown op ${String(op)}`)
    if (!isList(path) || path.length === 0) throw bad('path must be a non-empty list')
    const steps = path.map(readStep)
    return op === 2 ? [2, steps] : [op, steps, adoptDecoded(patch[2], steps.length)]
  })
}

function readStep(step: unknown): string | number {
  if (typeof step === 'number' && Number.isSafeInteger(step) && step >= 0) return step
  if (typeof step !== 'string' || FORBIDDEN.has(step)) throw bad(`path step ${String(step)}`)
  // A string step is a key of the value: it needs a UTF-8 form, as every key does.
  if (!step.isWellFormed()) throw unencodable('', `key with ${LONE_SURROGATE}`)
  return step
}

// Applies wire patches to a value structurally: untouched parts are shared, new nodes frozen. Each
// patch is checked against the value it meets, so the result is a value every client can read.
export function applyWirePatches(base: unknown, patches: readonly WirePatch[]): unknown {
  // Before immer, which refuses a Date or Uint8Array with a message of its own.
  isArrayNode(base, '')
  const { applying } = immer()
  try {
    return applying.produce(base, (draft: unknown) => {
      for (const [op, path, value] of patches) {
        checkTarget(draft, op, path)
        applying.applyPatches(draft as object, [
          op === 2 ? { op: 'remove', path } : { op: OPS[op], path, value },
        ])
      }
    })
  } catch (error) {
    if (error instanceof ZStateError) throw error
    throw new ZStateError(ErrorCode.INVALID_ARGUMENT, `patch does not apply: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

// Immer would change a Date or Uint8Array on the path in place (shared with every earlier revision),
// and leave holes or stray properties in arrays (which encode as undefined, or not at all).
function checkTarget(root: unknown, op: WirePatch[0], path: readonly (string | number)[]): void {
  let node = root
  let where = ''
  for (let i = 0; ; i++) {
    const step = path[i]!
    const last = i === path.length - 1
    if (isArrayNode(node, where)) {
      if (typeof step !== 'number') {
        if (last && op === 1 && step === '-') return
        throw unencodable(where, `a patch cannot give an array the property ${JSON.stringify(step)}`)
      }
      if (last) return checkIndex(node as unknown[], op, step, where)
      where += `[${step}]`
    } else {
      if (last) return
      where += `.${step}`
    }
    node = (node as Record<string | number, unknown>)[step]
  }
}

// Whether a node a patch goes into is an array (else a plain object); anything else is refused.
function isArrayNode(node: unknown, where: string): boolean {
  if (typeof node !== 'object' || node === null)
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `patch does not apply: value${where} is ${describe(node)}`,
    )
  if (Array.isArray(node)) return true
  if (Object.getPrototypeOf(node) !== Object.prototype)
    throw unencodable(where, `a patch cannot change ${describe(node)} in place`)
  return false
}

function checkIndex(array: unknown[], op: WirePatch[0], index: number, where: string): void {
  if (op === 2 && index >= array.length) {
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `patch does not apply: value${where} has no index ${index} (length ${array.length})`,
    )
  }
  if (index > (op === 1 ? array.length : array.length - 1))
    throw unencodable(where, `a patch at index ${index} of an array of ${array.length} would leave a hole`)
}
