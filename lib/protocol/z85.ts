// Z85 (ZeroMQ RFC 32), the text form of CURVE keys: 40 characters for a 32-byte key. zeromq.js makes
// and takes keys in this form but does not expose the codec; the ZAP handler gets keys as bytes.
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#'
const VALUES = new Map([...ALPHABET].map((char, value) => [char, value]))

// Whether `text` is a CURVE key in Z85: 40 characters of the alphabet that decode to 32 bytes.
export function isCurveKey(text: unknown): text is string {
  return typeof text === 'string' && text.length === 40 && decodeZ85(text) !== undefined
}

// The bytes of a Z85 string (its length a multiple of 5); undefined when it is not Z85.
export function decodeZ85(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined
  const bytes = Buffer.alloc((text.length / 5) * 4)
  for (let i = 0; i < text.length; i += 5) {
    let value = 0
    for (let j = 0; j < 5; j++) {
      const digit = VALUES.get(text[i + j]!)
      if (digit === undefined) return undefined
      value = value * 85 + digit
    }
    if (value > 0xffffffff) return undefined
    bytes.writeUInt32BE(value, (i / 5) * 4)
  }
  return bytes
}
