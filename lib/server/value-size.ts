// Values a commit makes on the server (a transaction's patches, an action's writes) are bounded as a
// client's are by its request: each must encode to at most what a set of it under any key could carry
// in one request. Patches each under the limit could otherwise grow a value past it, to a value no
// client can write back, whose every later patch held the server for seconds.
import { ErrorCode, ZStateError } from '../errors.ts'
import { encode } from '../protocol/codec.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { MAX_KEY_BYTES } from '../protocol/values.ts'
import { EncodedValue } from './set-frame.ts'

// Room in a request for everything of a set but its value: the frame, the request, its id and op,
// a key of the most bytes a key may have.
const SET_OVERHEAD = MAX_KEY_BYTES + 32

// The most bytes a value may encode to on a server that takes requests of `maxMessageBytes` (on one
// that takes very small requests, half of them: room for a set under a short key).
export function maxValueBytes(maxMessageBytes: number): number {
  return maxMessageBytes - Math.min(SET_OVERHEAD, maxMessageBytes / 2)
}

// The patched values, encoded (EncodedValue), once every value the changes make fits `limit` bytes;
// throws ERR_TOO_LARGE naming the first that does not. With `madeSets` false, SET values came in the
// request (a set's, a transaction's) and fit already, as it did: only patched values are measured.
export function boundedValues(
  changes: readonly WireChange[],
  patched: ReadonlyMap<string, unknown> | undefined,
  limit: number,
  madeSets: boolean,
): ReadonlyMap<string, unknown> | undefined {
  // A set, update, delete or clear: nothing made here (no pass over its changes on the write path).
  if (patched === undefined && !madeSets) return undefined
  let encoded: Map<string, unknown> | undefined
  for (const change of changes) {
    if (change[1] === ChangeKind.PATCH) {
      const bytes = encode(patched!.get(change[0]))
      check(change[0], bytes.length, limit)
      ;(encoded ??= new Map()).set(change[0], new EncodedValue(bytes))
    } else if (madeSets && change[1] === ChangeKind.SET) {
      const size = encodedSizeAbove(change[2], limit)
      if (size !== undefined) check(change[0], size, limit)
    }
  }
  return encoded ?? patched
}

function check(key: string, bytes: number, limit: number): void {
  if (bytes > limit)
    throw new ZStateError(
      ErrorCode.TOO_LARGE,
      `the value of ${JSON.stringify(key)} would encode to ${bytes} bytes, more than the ${limit} a value may have (maxMessageBytes, less room for a set's key): nothing of the write applied`,
    )
}

// A value's encoded size when it may be over `limit`; undefined when it cannot be (no encoding made).
function encodedSizeAbove(value: unknown, limit: number): number | undefined {
  if (value === null || typeof value !== 'object') {
    // A string's UTF-8 takes at most 3 bytes per UTF-16 unit, and its header 5.
    if (typeof value !== 'string' || value.length * 3 + 5 <= limit) return undefined
  } else if (value instanceof EncodedValue) return undefined
  return encode(value).length
}
