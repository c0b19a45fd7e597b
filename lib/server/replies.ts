// Encoded replies and pushes: what the server sends back on the ROUTER.
import { ConflictError, ErrorCode, RemoteError, ZStateError } from '../errors.ts'
import { encode } from '../protocol/codec.ts'
import { NO_REPLY, Status } from '../protocol/ops.ts'
import { remoteWire } from '../protocol/remote-detail.ts'

export function okReply(id: number, payload: readonly unknown[]): Buffer {
  return encode([id, Status.OK, ...payload])
}

// An OK reply of one field already encoded (a listing kept between requests).
export function okReplyEncoded(id: number, field: Buffer): Buffer {
  return withLast([id, Status.OK], field)
}

export function errorReplyOf(id: number, code: ErrorCode, message: string): Buffer {
  return encode([id, Status.ERROR, code, message])
}

// A push: the server speaking first (request id 0), see Push in protocol/ops.ts.
export function push(kind: number, fields: readonly unknown[]): Buffer {
  return encode([NO_REPLY, kind, ...fields])
}

// A push whose last field is already encoded: encoded with a nil there (its last byte), which the
// encoded field then takes the place of.
export function pushEncoded(kind: number, fields: readonly unknown[], last: Buffer): Buffer {
  return withLast([NO_REPLY, kind, ...fields], last)
}

// `fields` and then `last`, encoded already: encoded with a nil there (its last byte), which `last`
// then takes the place of.
function withLast(fields: readonly unknown[], last: Buffer): Buffer {
  const head = encode([...fields, null])
  return Buffer.concat([head.subarray(0, head.length - 1), last])
}

// The error reply for anything a request handler threw: our errors keep their code and detail.
export function errorReply(id: number, error: unknown): Buffer {
  if (error instanceof ConflictError)
    return encode([id, Status.ERROR, error.code, error.message, error.keys, error.revision])
  if (error instanceof RemoteError) {
    const { message, detail } = remoteWire(error)
    return encode([id, Status.ERROR, error.code, message, detail])
  }
  if (error instanceof ZStateError) return encode([id, Status.ERROR, error.code, error.message])
  return encode([
    id,
    Status.ERROR,
    ErrorCode.PROTOCOL,
    `bad request: ${(error as Error)?.message ?? String(error)}`,
  ])
}
