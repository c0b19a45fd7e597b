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

export declare const startServer: typeof zstate.startServer
export declare const connect: typeof zstate.connect
export declare const createContext: typeof zstate.createContext
export declare const generateKeyPair: typeof zstate.generateKeyPair
export declare const isZStateError: typeof zstate.isZStateError
export declare const ZStateError: typeof zstate.ZStateError
export type ZStateError = zstate.ZStateError
export declare const TimeoutError: typeof zstate.TimeoutError
export type TimeoutError = zstate.TimeoutError
export declare const ConflictError: typeof zstate.ConflictError
export type ConflictError = zstate.ConflictError
export declare const RemoteError: typeof zstate.RemoteError
export type RemoteError = zstate.RemoteError
export declare const ProcessExitError: typeof zstate.ProcessExitError
export type ProcessExitError = zstate.ProcessExitError
export declare const ErrorCode: typeof zstate.ErrorCode
export type ErrorCode = zstate.ErrorCode
