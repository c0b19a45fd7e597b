// Encoded replies and pushes for the parts of the server that answer later than their request (broker).
import type { ErrorCode } from '../errors.ts'
import { encode } from '../protocol/codec.ts'
import { NO_REPLY, Status } from '../protocol/ops.ts'

export function okReply(id: number, payload: readonly unknown[]): Buffer {
  return encode([id, Status.OK, ...payload])
}

export function errorReplyOf(id: number, code: ErrorCode, message: string): Buffer {
  return encode([id, Status.ERROR, code, message])
}

// A push: the server speaking first (request id 0), see Push in protocol/ops.ts.
export function push(kind: number, fields: readonly unknown[]): Buffer {
  return encode([NO_REPLY, kind, ...fields])
}
