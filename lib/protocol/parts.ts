// How a payload travels as ZeroMQ frames (docs/protocol.md, "Parts"). zeromq.js hands a Buffer of
// over 128 bytes to libzmq without copying it, and makes a received one an external Buffer: the
// sender's main thread is then woken once more to release it after the send, and the receiver's pays
// a finalizer. For a small message that costs more than the copy it saves (benchmarks/frame-parts.ts
// measures it), so a payload of up to 1 KiB goes as parts of 128 bytes, each copied, and the
// receiver joins them. From 1 KiB up, one frame is as fast.
export const PART_BYTES = 128
export const MAX_PARTS = 8

// `payload` as the frames to send: itself, or its parts (views, not copies).
export function toParts(payload: Buffer): Buffer[] {
  const bytes = payload.length
  if (bytes <= PART_BYTES || bytes > PART_BYTES * MAX_PARTS) return [payload]
  const parts = new Array<Buffer>(Math.ceil(bytes / PART_BYTES))
  for (let i = 0; i < parts.length; i++) parts[i] = payload.subarray(i * PART_BYTES, (i + 1) * PART_BYTES)
  return parts
}

// The payload in frames[from..]: one frame as it is, or parts joined; undefined when they are not a
// payload's parts (more than MAX_PARTS, or a part other than the last not exactly PART_BYTES, or an
// empty last one), so a peer cannot make the receiver join more than 1 KiB.
export function fromParts(frames: readonly Buffer[], from: number): Buffer | undefined {
  const count = frames.length - from
  if (count === 1) return frames[from]
  if (count < 2 || count > MAX_PARTS) return undefined
  const last = frames[frames.length - 1]!.length
  if (last === 0 || last > PART_BYTES) return undefined
  for (let i = from; i < frames.length - 1; i++) if (frames[i]!.length !== PART_BYTES) return undefined
  const payload = Buffer.allocUnsafe((count - 1) * PART_BYTES + last)
  for (let i = from; i < frames.length; i++) frames[i]!.copy(payload, (i - from) * PART_BYTES)
  return payload
}
