// The public surface of zstate: everything users import comes from here.
export { startServer } from './server/server.ts'
export { connect } from './client/client.ts'
export {
  ZStateError,
  TimeoutError,
  ConflictError,
  RemoteError,
  ProcessExitError,
  isZStateError,
  ErrorCode,
} from './errors.ts'

export type { Server, ServerOptions } from './server/server.ts'
export type { Client, ConnectOptions, ServerInfo } from './client/client.ts'
export type { State, StateReader, TypedChange, Draft } from './client/state-types.ts'
export type { AtomicOptions } from './client/transaction.ts'
export type { Change } from './client/replica.ts'
export type { RevisionEvent } from './client/observers.ts'
export type { WhenOptions } from './client/waiters.ts'
export type { WatchOptions } from './client/watch.ts'
export type { StatusEvent } from './client/status.ts'
export type { Metrics } from './client/metrics.ts'
