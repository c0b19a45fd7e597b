// The public shape of a Client (docs/state.md "Server and client"), in a module that imports no implementation, so the
// published declarations never reach one.
import type { Messaging } from '../messaging/types.ts'
import type { State } from './state-types.ts'

/** Options of `connect()`. */
export interface ConnectOptions {
  /**
   * ms to join (snapshot received, change stream subscribed) before TimeoutError (ERR_TIMEOUT);
   * default 10 000.
   */
  timeout?: number | undefined
  /** ms each request may take before TimeoutError (ERR_TIMEOUT); default 30 000. */
  requestTimeout?: number | undefined
  /**
   * ms of silence after which the server counts as lost and the client reconnects; default 3 × the
   * server's `heartbeatMs`.
   */
  heartbeatTimeout?: number | undefined
  /** This client's name, shown by `zstate top`; default the script's file name. */
  name?: string | undefined
  /**
   * Replicate only the keys under these prefixes (at most 256, each at most 1 024 UTF-8 bytes): the
   * client receives no commits of other keys. Reads, waiters, watches, scopes and `atomic` reads of
   * other keys are refused with ERR_INVALID_ARGUMENT; writes to any key work, with read-your-writes
   * for replicated keys. `[]` replicates nothing (a pure writer). Default: every key.
   */
  replicate?: readonly string[] | undefined
  /**
   * CurveZMQ (docs/security.md): the server's public key and this client's key pair, from
   * `generateKeyPair()`. A server that does not authorize the key, or a wrong server key, makes
   * `connect()` fail at once with ERR_UNAUTHORIZED.
   */
  curve?: { serverKey: string; publicKey: string; secretKey: string } | undefined
  /**
   * Aborting it while `connect()` is joining rejects it with `signal.reason`, unchanged, and closes
   * everything it opened. It has no effect once `connect()` has resolved.
   */
  signal?: AbortSignal | undefined
}

/** What `client.server()` reports about the server. */
export interface ServerInfo {
  /** zstate version of the server. */
  version: string
  /** Wire protocol version. */
  protocol: number
  /** The server's process id. */
  pid: number
  /** Identifies this run of the server's store; a new epoch means a new store (clients reset). */
  epoch: string
  /** The server's current revision. */
  revision: number
  /** Clients connected now. */
  clients: number
  /** ms since the server started. */
  uptime: number
  /** Frames the server dropped because they carried no usable request id. */
  droppedFrames: number
}

/** A lifecycle event of a client, as `client.status()` yields it. */
export interface StatusEvent {
  /**
   * `disconnected`: the server was lost (requests in flight fail with ERR_DISCONNECTED);
   * `reconnected`: back, replica caught up from history; `reset`: the replica was rebuilt from a
   * snapshot (watch iterators failed with ERR_COMPACTED); `closed`: `close()` finished.
   */
  type: 'disconnected' | 'reconnected' | 'reset' | 'closed'
}

/** Counters of one client since it connected, as `client.metrics()` returns them. */
export interface Metrics {
  /** Messages received from the server. */
  messagesIn: number
  /** Messages sent to the server. */
  messagesOut: number
  /** Bytes received from the server. */
  bytesIn: number
  /** Bytes sent to the server. */
  bytesOut: number
  /** Gaps in the change stream closed by fetching the missed revisions from the server's history. */
  gapsRepaired: number
  /** Times the replica was rebuilt from a snapshot. */
  resyncs: number
  /** `atomic` attempts that hit a conflict and ran again. */
  conflicts: number
}

/**
 * A connection to a state server with a replica of its store (`state`), services and topics.
 * It reconnects by itself after a lost server; `await using` closes it.
 */
export interface Client<S extends object = Record<string, unknown>> extends AsyncDisposable, Messaging {
  /** The replicated store: synchronous reads, writes that resolve once visible here. */
  readonly state: State<S>
  /** The address of the server in use (with several gateways, the one it is connected to or last tried). */
  readonly address: string
  /** Resolves after `close()` (with `undefined`), or with the cause if the client gave up. Never rejects. */
  readonly closed: Promise<Error | undefined>
  /** Closes the client; idempotent. Pending calls reject with ERR_CLOSED. */
  close(): Promise<void>
  /** Calls `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
  /**
   * Asks the server about itself. `timeout` (ms; default the client's requestTimeout) → ERR_TIMEOUT;
   * `signal` rejects with its reason.
   */
  server(options?: { timeout?: number | undefined; signal?: AbortSignal | undefined }): Promise<ServerInfo>
  /** Lifecycle events from now on: disconnected, reconnected, reset, closed (which ends the iteration). */
  status(): AsyncIterable<StatusEvent>
  /** A copy of this client's counters. */
  metrics(): Metrics
}
