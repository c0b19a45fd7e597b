// Guards for decoded frames: what a well-formed request or reply looks like.

export function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

// Array.isArray narrows to any[]: this narrows to what a decoded array really holds.
export function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value)
}

// A decoded map (MessagePack map → plain object), its fields still to be checked.
export function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
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
export function peekArrayLength(frame: Uint8Array, at = 0): number | undefined {
  const byte = frame[at]
  if (byte === undefined) return undefined
  if (byte >= 0x90 && byte <= 0x9f) return byte & 0x0f
  if (byte === 0xdc && frame.length >= at + 3) return (frame[at + 1]! << 8) | frame[at + 2]!
  if (byte === 0xdd && frame.length >= at + 5)
    return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(at + 1)
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
