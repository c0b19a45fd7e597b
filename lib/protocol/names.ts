// Service names, method names and topics: non-empty well-formed strings of at most 1,024 UTF-8 bytes.
import { invalidArgument } from '../errors.ts'
import { LONE_SURROGATE, describe } from './values.ts'

export const MAX_NAME_BYTES = 1024

export function isName(value: unknown): value is string {
  // Up to 341 UTF-16 units cannot exceed 1,023 UTF-8 bytes, so only long names are measured.
  return (
    typeof value === 'string' &&
    value !== '' &&
    (value.length <= 341 || Buffer.byteLength(value) <= MAX_NAME_BYTES) &&
    value.isWellFormed()
  )
}

// Throws ERR_INVALID_ARGUMENT naming what was expected and what arrived.
export function checkName(value: unknown, what: string): asserts value is string {
  if (isName(value)) return
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string, got ${describe(value)}`)
  if (value === '') throw invalidArgument(`${what} must not be empty`)
  if (!value.isWellFormed()) throw invalidArgument(`${what} must not hold ${LONE_SURROGATE}`)
  throw invalidArgument(`${what} is longer than ${MAX_NAME_BYTES} UTF-8 bytes`)
}
