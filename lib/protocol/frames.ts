// Guards for decoded frames: what a well-formed request or reply looks like.

export function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

// Array.isArray narrows to any[]: this narrows to what a decoded array really holds.
export function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value)
}

// A revision as the wire carries it: a safe integer ≥ 0.
export function isRevision(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

// Reads the first request id from a frame without decoding it: used to answer an oversized frame.
export function peekFirstRequestId(frame: Uint8Array): number | undefined {
  let at = skipArrayHeader(frame, 0)
  if (at === undefined) return undefined
  at = skipArrayHeader(frame, at)
  if (at === undefined || at >= frame.length) return undefined
  return readUint(frame, at)
}

// How many requests a frame holds, read from its array header without decoding it (undefined: not
// an array), so an oversized batch is refused before it costs anything.
export function peekArrayLength(frame: Uint8Array): number | undefined {
  const byte = frame[0]
  if (byte === undefined) return undefined
  if (byte >= 0x90 && byte <= 0x9f) return byte & 0x0f
  if (byte === 0xdc && frame.length >= 3) return (frame[1]! << 8) | frame[2]!
  if (byte === 0xdd && frame.length >= 5)
    return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(1)
  return undefined
}

function skipArrayHeader(frame: Uint8Array, at: number): number | undefined {
  const byte = frame[at]
  if (byte === undefined) return undefined
  if (byte >= 0x91 && byte <= 0x9f) return at + 1
  if (byte === 0xdc) return at + 3
  if (byte === 0xdd) return at + 5
  return undefined
}

// Reads [epoch, first revision, commit count] from a PUB state payload without decoding it, so a
// client can drop a message whose commits it already applied (from their replies).
export function peekCommitRange(
  payload: Uint8Array,
): { epoch: string; first: number; count: number } | undefined {
  if (payload[0] !== 0x92) return undefined
  const epochHeader = payload[1]
  if (epochHeader === undefined || epochHeader < 0xa0 || epochHeader > 0xbf) return undefined
  const epochEnd = 2 + (epochHeader & 0x1f)
  const epoch = Buffer.from(payload.buffer, payload.byteOffset + 2, epochEnd - 2).toString('latin1')
  const header = payload[epochEnd]
  let count: number
  let at: number
  if (header !== undefined && header >= 0x91 && header <= 0x9f) {
    count = header & 0x0f
    at = epochEnd + 1
  } else if (header === 0xdc) {
    count = (payload[epochEnd + 1]! << 8) | payload[epochEnd + 2]!
    at = epochEnd + 3
  } else return undefined
  // A commit: [revision, previous, changes, session?, requestId?, result?].
  const commitHeader = payload[at]
  if (commitHeader === undefined || commitHeader < 0x93 || commitHeader > 0x96) return undefined
  const first = readUint(payload, at + 1)
  return first === undefined ? undefined : { epoch, first, count }
}

function readUint(bytes: Uint8Array, at: number): number | undefined {
  const byte = bytes[at]
  if (byte === undefined) return undefined
  if (byte <= 0x7f) return byte
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (byte === 0xcc && at + 1 < bytes.length) return view.getUint8(at + 1)
  if (byte === 0xcd && at + 2 < bytes.length) return view.getUint16(at + 1)
  if (byte === 0xce && at + 4 < bytes.length) return view.getUint32(at + 1)
  return undefined
}
