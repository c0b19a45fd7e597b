import type { Client, ServerOptions } from '../../lib/index.ts'
import { zstatePackage } from './built.ts'
import type { IpcDir } from './ipc.ts'
import { inFlight } from './measure.ts'
import { itemOf, keyOf } from './values.ts'
import { forkSide, type Side } from './processes.ts'

const { connect } = zstatePackage

// The zstate half of most scenarios: a state server in a side process and a client in this one.
export type BenchClient = Client<Record<string, unknown>>

// `count` state.set calls in flight at once from `client`, one revision each; resolves with ops/s.
export function setAll(client: BenchClient, count: number): Promise<number> {
  return inFlight(count, () =>
    Promise.all(Array.from({ length: count }, (_, i) => client.state.set(keyOf(i), itemOf(i)))),
  )
}

export interface StateServer extends AsyncDisposable {
  readonly address: string
  readonly side: Side
}

export interface StateServerOptions {
  // The URL of a server actions module (ServerOptions.actions), for state.run.
  readonly actions?: URL
  // Storage on disk (ServerOptions.dataDir, fsync); default: memory only.
  readonly storage?: Pick<ServerOptions, 'dataDir' | 'fsync'>
  // Where the server listens (ServerOptions.address); default: an ipc:// endpoint in `dir`.
  readonly address?: string
  // CurveZMQ: the server's key pair and the one client key pair it authorizes, which the pair's client
  // connects with (generateKeyPair()); default: none.
  readonly curve?: { readonly server: KeyPair; readonly client: KeyPair }
}

export interface KeyPair {
  readonly publicKey: string
  readonly secretKey: string
}

export async function startStateServer(
  dir: IpcDir,
  name = 'state',
  options: StateServerOptions = {},
): Promise<StateServer> {
  const side = await forkSide(new URL('../sides/state-server.ts', import.meta.url), { exposeGc: true })
  const { curve } = options
  const address = await side.call<string>(
    'start',
    options.address ?? dir.endpoint(name),
    options.actions?.href,
    {
      ...options.storage,
      ...(curve === undefined
        ? {}
        : { curve: { ...curve.server, authorizedKeys: [curve.client.publicKey] } }),
    },
  )
  return { address, side, [Symbol.asyncDispose]: () => side.stop() }
}

export interface StatePair extends AsyncDisposable {
  readonly server: StateServer
  readonly client: BenchClient
}

export async function startStatePair(
  dir: IpcDir,
  name = 'state',
  options: StateServerOptions = {},
): Promise<StatePair> {
  const server = await startStateServer(dir, name, options)
  const { curve } = options
  const client = await connect<Record<string, unknown>>(server.address, {
    name: 'bench',
    ...(curve === undefined ? {} : { curve: { serverKey: curve.server.publicKey, ...curve.client } }),
  })
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      await client.close()
      await server[Symbol.asyncDispose]()
    },
  }
}
