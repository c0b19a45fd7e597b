// MessagePack encoding for every frame: standard types only, strict decoding.
import { Packr } from 'msgpackr'
import { ErrorCode, ZStateError } from '../errors.ts'

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'bigint' })

export function encode(value: unknown): Buffer {
  return packr.pack(value)
}

// Decodes one whole frame; truncated data, trailing bytes and non-standard types are ERR_PROTOCOL.
export function decode(frame: Uint8Array): unknown {
  try {
    return packr.unpack(frame)
  } catch (error) {
    throw new ZStateError(ErrorCode.PROTOCOL, `malformed message: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

// MessagePack array header for n items, so already-encoded items can be concatenated into an array.
export function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n])
  if (n < 0x10000) return Buffer.from([0xdc, n >> 8, n & 0xff])
  const header = Buffer.allocUnsafe(5)
  header[0] = 0xdd
  header.writeUInt32BE(n, 1)
  return header
}

// Encodes [head..., [items...]] where items are already encoded, without re-encoding them.
export function encodeWithItems(
  head: readonly unknown[],
  items: readonly Buffer[],
  itemBytes: number,
): Buffer {
  const prefix: Buffer[] = [arrayHeader(head.length + 1)]
  for (const value of head) prefix.push(encode(value))
  prefix.push(arrayHeader(items.length))
  let total = itemBytes
  for (const part of prefix) total += part.length
  // concat, not spread: items can be far more than a call's argument limit.
  return Buffer.concat(prefix.concat(items), total)
}
