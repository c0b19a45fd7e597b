// What a handler threw, as the error part of a RESULT: the caller rebuilds it as a RemoteError.
import { ErrorCode, ZStateError } from '../errors.ts'
import { Status } from '../protocol/ops.ts'
import { remoteWire } from '../protocol/remote-detail.ts'

// The broker's errors a forwarded call may meet, which its caller should see as they are.
const PASSED_ON = new Set<string>([
  ErrorCode.NO_PROVIDER,
  ErrorCode.PROVIDER_LOST,
  ErrorCode.TIMEOUT,
  ErrorCode.OVERFLOW,
])

// [status, code, message, detail]: a handler's throw as remoteWire() carries it. A handler that passes
// on a call to another provider (an etcd gateway's proxy) passes on its failure as it came: a
// RemoteError with its remote fields, and the broker's own errors with their codes.
export function remoteFailure(thrown: unknown): unknown[] {
  if (thrown instanceof ZStateError && PASSED_ON.has(thrown.code))
    return [Status.ERROR, thrown.code, thrown.message]
  const { message, detail } = remoteWire(thrown)
  return [Status.ERROR, ErrorCode.REMOTE, message, detail]
}
