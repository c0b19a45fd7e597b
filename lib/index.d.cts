// The declarations a CommonJS consumer's require('zstate') gets (TypeScript's module node16 and
// nodenext in a .cts file or a "type": "commonjs" package): zstate's ES module declarations cannot
// be required, so this file names each export of lib/index.ts again, the types re-exported, the
// values declared as what they are there. spec/package-types.spec.ts checks that it names them all.
/// <reference types="node" preserve="true" />
import type * as zstate from './index.js' with { 'resolution-mode': 'import' }

export type {
  Server,
  ServerOptions,
  Client,
  ConnectOptions,
  ServerInfo,
  StatusEvent,
  Metrics,
  State,
  StateReader,
  TypedChange,
  Draft,
  AtomicOptions,
  SetOptions,
  WriteOptions,
  Change,
  RevisionEvent,
  WhenOptions,
  WatchOptions,
  Messaging,
  Handler,
  Handlers,
  Implementation,
  ProvideOptions,
  ProviderHandle,
  RequestOptions,
  CallOptions,
  ServiceInfo,
  ServiceProxy,
  WaitForServiceOptions,
  ProviderInfo,
  ServiceDetail,
  Subscription,
  SubscribeOptions,
  TopicMessage,
  Context,
  ContextOptions,
  WorkerContext,
  WorkerFunction,
  MapFunction,
  SpawnOptions,
  SpawnManyOptions,
  MapOptions,
  MapResult,
  WaitOptions,
  ChildHandle,
  ChildStats,
  ChildStatus,
  ProcessTable,
  ContextRow,
  ChildRow,
  ProcessUsage,
  ListedStatus,
} from './index.js' with { 'resolution-mode': 'import' }

export declare const startServer: typeof zstate.startServer,
  connect: typeof zstate.connect,
  createContext: typeof zstate.createContext,
  generateKeyPair: typeof zstate.generateKeyPair,
  isZStateError: typeof zstate.isZStateError,
  ZStateError: typeof zstate.ZStateError,
  TimeoutError: typeof zstate.TimeoutError,
  ConflictError: typeof zstate.ConflictError,
  RemoteError: typeof zstate.RemoteError,
  ProcessExitError: typeof zstate.ProcessExitError,
  ErrorCode: typeof zstate.ErrorCode

// The classes and ErrorCode are types too.
export type ZStateError = zstate.ZStateError
export type TimeoutError = zstate.TimeoutError
export type ConflictError = zstate.ConflictError
export type RemoteError = zstate.RemoteError
export type ProcessExitError = zstate.ProcessExitError
export type ErrorCode = zstate.ErrorCode
