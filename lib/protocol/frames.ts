// Guards for decoded frames: what a well-formed request or reply looks like.

export function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

// Reads the first request id from a frame without decoding it: used to answer an oversized frame.
export function peekFirstRequestId(frame: Uint8Array): number | undefined {
  let at = skipArrayHeader(frame, 0)
  if (at === undefined) return undefined
  at = skipArrayHeader(frame, at)
  if (at === undefined || at >= frame.length) return undefined
  const byte = frame[at]!
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  if (byte <= 0x7f) return byte
  if (byte === 0xcc && at + 1 < frame.length) return view.getUint8(at + 1)
  if (byte === 0xcd && at + 2 < frame.length) return view.getUint16(at + 1)
  if (byte === 0xce && at + 4 < frame.length) return view.getUint32(at + 1)
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
