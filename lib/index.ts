// The public surface of zstate: everything users import comes from here.
export { startServer } from './server/server.ts'
export { connect } from './client/client.ts'
export { createContext } from './process/context.ts'
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
export type {
  Messaging,
  Handler,
  Handlers,
  Implementation,
  ProvideOptions,
  ProviderHandle,
  CallOptions,
  ServiceProxy,
  ServiceInfo,
  WaitForServiceOptions,
  Subscription,
  SubscribeOptions,
  TopicMessage,
} from './messaging/types.ts'
export type {
  Context,
  ContextOptions,
  WorkerContext,
  WorkerFunction,
  MapFunction,
  SpawnOptions,
  MapOptions,
  ChildHandle,
  ChildStats,
  ChildStatus,
} from './process/types.ts'
export type { ProcessTable, ContextRow, ChildRow, ProcessUsage } from './protocol/process-table.ts'
