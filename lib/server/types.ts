// The public shape of the state server (docs/state.md "Server and client"), in a module that imports no implementation,
// so the published declarations never reach one.

/** Options of `startServer()`; every one is optional. */
export interface ServerOptions {
  /**
   * The endpoint to bind; default `ipc://` in a private (0700) temp dir. `tcp://HOST:*` binds a
   * free port (`server.address` shows it). Non-loopback tcp is refused unless `insecure`.
   */
  address?: string | undefined
  /** Allow tcp on a non-loopback interface without encryption; default false. */
  insecure?: boolean | undefined
  /**
   * Commits kept for gap repair and `watch({ fromRevision })`: at most `revisions` (default
   * 10 000) and `bytes` (default 64 MiB), whichever is smaller.
   */
  history?: { revisions?: number | undefined; bytes?: number | undefined } | undefined
  /** Bytes; larger requests are refused with ERR_TOO_LARGE; default 16 MiB, at least 1 024. */
  maxMessageBytes?: number | undefined
  /** ms between heartbeats when the server is idle; default 500, at least 10. */
  heartbeatMs?: number | undefined
  /** Changes queued per subscriber before it misses some (and repairs the gap); default 10 000. */
  publishHighWaterMark?: number | undefined
  /** Calls waiting for a free provider, per service; beyond it ERR_OVERFLOW; default 10 000. */
  maxQueuedCalls?: number | undefined
  /**
   * Directory (created 0700) for a write-ahead log and snapshots (docs/durability.md); a restart on
   * it restores the store, the revision counter and the history. Default: nothing touches the disk.
   */
  dataDir?: string | undefined
  /**
   * With `dataDir`: `'always'` (default) fsyncs each turn's commits before anyone hears of them;
   * `'interval'` at most 1 s later; `'never'` leaves it to the OS.
   */
  fsync?: 'always' | 'interval' | 'never' | undefined
  /**
   * With `dataDir`: cut the log at the first damaged record instead of refusing to start with
   * ERR_CORRUPT; default false.
   */
  repair?: boolean | undefined
  /**
   * CurveZMQ on every socket of the server (docs/security.md): its key pair (`generateKeyPair()`) and
   * the client public keys it accepts, or `'any'` to encrypt without checking who connects. Others
   * never get a session: their `connect()` fails with ERR_UNAUTHORIZED.
   */
  curve?:
    | {
        publicKey: string
        secretKey: string
        authorizedKeys: readonly string[] | 'any'
        /**
         * `'owned'` (default): a service belongs to the client key of its first provider while any of
         * its providers lives, and providers under other keys are refused with ERR_UNAUTHORIZED;
         * `'shared'`: any authorized client may provide any service.
         */
        services?: 'owned' | 'shared' | undefined
      }
    | undefined
  /**
   * Path or URL of a module whose named exports `(draft, ...args) => result` are the actions
   * clients run with `state.run(name, ...args)`; default none.
   */
  actions?: string | URL | undefined
  /**
   * `'HOST:PORT'` to serve Prometheus metrics over HTTP at `http://HOST:PORT/metrics`
   * (docs/observability.md); PORT 0 binds a free port (`server.metricsUrl` shows it). A HOST beyond
   * loopback is refused unless `insecure`. Default: no metrics endpoint.
   */
  metrics?: string | undefined
  /**
   * Make this server a gateway to a state held by etcd (docs/scale-out.md): every server started
   * with the same endpoints and prefix (default `'zstate/'`) serves one state, and clients given
   * several of them fail over between them. Excludes `dataDir`.
   */
  etcd?:
    | {
        endpoints: string[]
        prefix?: string | undefined
        username?: string | undefined
        password?: string | undefined
        /** Where the other gateways reach this one, for services and topics; default: `address` as bound. */
        advertise?: string | undefined
      }
    | undefined
}

/** A running state server. `await using` closes it. */
export interface Server extends AsyncDisposable {
  /** The bound endpoint clients pass to `connect()` (with the chosen port for `tcp://…:*`). */
  readonly address: string
  /** Identifies this run of the store; clients that see a new epoch rebuild their replica. */
  readonly epoch: string
  /** The last committed revision; 0 while the store has never been written. */
  readonly revision: number
  /** Where the `metrics` option serves Prometheus metrics (with the bound port); undefined without it. */
  readonly metricsUrl: string | undefined
  /**
   * Resolves once the server has closed: with undefined after `close()`, or with the cause when it
   * stopped on its own (an etcd gateway whose watch etcd cancelled, ERR_UNAVAILABLE).
   */
  readonly closed: Promise<Error | undefined>
  /** Stops serving; idempotent. Leaves no socket files or handles behind. */
  close(): Promise<void>
  /** Calls `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
