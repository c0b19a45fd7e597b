/// <reference types="node" preserve="true" />
// The public surface of zstate: everything users import comes from here. The factories are declared
// here in public types only, and every type comes from a module that imports no implementation, so
// the published declarations (dist/lib/index.d.ts and what it imports) never reach an internal class.
// They use Node's types (AsyncDisposable, NodeJS.*): the reference above loads @types/node for a
// consumer that lists no @types package (TypeScript 7 loads none by default).
import { curveKeyPair } from './zmq.ts'
import { connect as connectClient } from './connect.ts'
import type { Client, ConnectOptions } from './client/types.ts'
import { createContext as createProcessContext } from './process/context.ts'
import type { Context, ContextOptions } from './process/types.ts'
import type { Server, ServerOptions } from './server/types.ts'

/**
 * Starts a state server in this process and resolves once it is bound; `close()` (or `await
 * using`) stops it. Without `address` it listens on `ipc://` in a private temp dir.
 */
export async function startServer(options?: ServerOptions): Promise<Server> {
  // Loaded on first use: a client, a context (its server runs in a process of its own) or a child
  // never needs the server's code.
  const { startServer: startStateServer } = await import('./server/server.ts')
  return startStateServer(options)
}

/**
 * Connects to the state server at `address` (default `process.env.ZSTATE_ADDRESS`, which every
 * spawned child has) and resolves once the client holds a snapshot and is subscribed to the change
 * stream. `S` types the store: `connect<{ count: number }>()`. A list of addresses (or
 * `ZSTATE_ADDRESS` separated by commas) names several etcd gateways to one state: the client moves
 * to the next when it loses one (docs/scale-out.md).
 */
export function connect<S extends object = Record<string, unknown>>(
  address?: string | readonly string[],
  options?: ConnectOptions,
): Promise<Client<S>> {
  return connectClient<S>(address, options)
}

/**
 * Starts a state server in a child process (unless `address` is given: it never reads
 * `ZSTATE_ADDRESS`) and connects to it: a Client that also spawns and maps over children.
 */
export function createContext<S extends object = Record<string, unknown>>(
  options?: ContextOptions,
): Promise<Context<S>> {
  return createProcessContext<S>(options)
}

/** A CURVE key pair in Z85 (40 characters each), for `curve` on servers and clients. */
export function generateKeyPair(): { publicKey: string; secretKey: string } {
  return curveKeyPair()
}

export {
  ZStateError,
  TimeoutError,
  ConflictError,
  RemoteError,
  ProcessExitError,
  isZStateError,
  ErrorCode,
} from './errors.ts'

export type { Server, ServerOptions } from './server/types.ts'
export type { Client, ConnectOptions, ServerInfo, StatusEvent, Metrics } from './client/types.ts'
export type {
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
} from './client/state-types.ts'
export type {
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
} from './messaging/types.ts'
export type {
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
} from './process/types.ts'
export type {
  ProcessTable,
  ContextRow,
  ChildRow,
  ProcessUsage,
  ListedStatus,
} from './protocol/process-table.ts'
