// ServerOptions as docs/state.md defines them, validated at the boundary.
import { invalidArgument } from '../errors.ts'
import { checkKnown } from '../known-options.ts'
import { addressSyntax, isEtcdEndpoint, isLoopbackHost, parseHostPort } from '../protocol/address.ts'
import { checkKeyPair } from '../protocol/key-proof.ts'
import { isCurveKey } from '../protocol/z85.ts'
import type { EtcdOptions } from './etcd/gateway.ts'
import type { HistoryLimits } from './history.ts'
import type { ServerOptions } from './types.ts'
import { shown } from '../protocol/values.ts'
import { MAX_TIMER_MS } from '../timer-limit.ts'

export type { ServerOptions } from './types.ts'

export interface ResolvedServerOptions {
  address: string | undefined
  insecure: boolean
  history: HistoryLimits
  maxMessageBytes: number
  heartbeatMs: number
  publishHighWaterMark: number
  maxQueuedCalls: number
  storage: StorageOptions | undefined
  curve: CurveServerOptions | undefined
  metrics: { host: string; port: number } | undefined
  etcd: EtcdOptions | undefined
}

export interface CurveServerOptions {
  publicKey: string
  secretKey: string
  authorizedKeys: readonly string[] | 'any'
  services: 'owned' | 'shared'
}

export type FsyncPolicy = 'always' | 'interval' | 'never'

export interface StorageOptions {
  dir: string
  fsync: FsyncPolicy
  repair: boolean
}

const FSYNC_POLICIES: readonly unknown[] = ['always', 'interval', 'never']

function positiveInteger(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(`startServer: ${name} must be an integer ≥ ${min}, got ${shown(value)}`)
  }
  return value
}

// A period a timer can hold (lib/timer-limit.ts): Node runs a longer one every millisecond.
function period(value: unknown, name: string, fallback: number, min: number): number {
  const ms = positiveInteger(value, name, fallback, min)
  if (ms > MAX_TIMER_MS)
    throw invalidArgument(`startServer: ${name} must be at most ${MAX_TIMER_MS} (about 24.8 days), got ${ms}`)
  return ms
}

const SERVER_OPTIONS = [
  'address',
  'insecure',
  'history',
  'maxMessageBytes',
  'heartbeatMs',
  'publishHighWaterMark',
  'maxQueuedCalls',
  'dataDir',
  'fsync',
  'repair',
  'curve',
  'actions',
  'metrics',
  'etcd',
]

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('startServer: options must be an object')
  if (
    options.actions !== undefined &&
    typeof options.actions !== 'string' &&
    !(options.actions instanceof URL)
  ) {
    throw invalidArgument(`startServer: actions must be a path or URL, got ${typeof options.actions}`)
  }
  checkKnown(options, SERVER_OPTIONS, 'startServer')
  if (options.insecure !== undefined && typeof options.insecure !== 'boolean')
    throw invalidArgument(`startServer: insecure must be a boolean, got ${shown(options.insecure)}`)
  const history = options.history ?? {}
  if (typeof history !== 'object' || history === null)
    throw invalidArgument('startServer: history must be an object')
  checkKnown(history, ['revisions', 'bytes'], 'startServer: history')
  return {
    storage: resolveStorage(options),
    curve: resolveCurve(options.curve),
    address: options.address,
    insecure: options.insecure === true,
    history: {
      revisions: positiveInteger(history.revisions, 'history.revisions', 10_000),
      bytes: positiveInteger(history.bytes, 'history.bytes', 64 << 20),
    },
    maxMessageBytes: positiveInteger(options.maxMessageBytes, 'maxMessageBytes', 16 << 20, 1024),
    heartbeatMs: period(options.heartbeatMs, 'heartbeatMs', 500, 10),
    publishHighWaterMark: positiveInteger(options.publishHighWaterMark, 'publishHighWaterMark', 10_000),
    maxQueuedCalls: positiveInteger(options.maxQueuedCalls, 'maxQueuedCalls', 10_000, 0),
    metrics: resolveMetrics(options.metrics, options.insecure === true),
    etcd: resolveEtcd(options),
  }
}

// The etcd cluster holding the state, for a gateway (docs/scale-out.md); it replaces a data dir.
function resolveEtcd(options: ServerOptions): EtcdOptions | undefined {
  const etcd = options.etcd
  if (etcd === undefined) return undefined
  if (typeof etcd !== 'object' || etcd === null) throw invalidArgument('startServer: etcd must be an object')
  checkKnown(etcd, ['endpoints', 'prefix', 'username', 'password', 'advertise'], 'startServer: etcd')
  if (options.dataDir !== undefined)
    throw invalidArgument('startServer: etcd and dataDir exclude each other: etcd holds the state durably')
  const { endpoints, prefix = 'zstate/', username, password, advertise } = etcd
  if (!Array.isArray(endpoints) || endpoints.length === 0 || !endpoints.every(isEtcdEndpoint))
    throw invalidArgument(
      `startServer: etcd.endpoints must be a non-empty list of URLs like 'http://127.0.0.1:2379', got ${JSON.stringify(endpoints)}`,
    )
  if (typeof prefix !== 'string' || prefix === '')
    throw invalidArgument(
      `startServer: etcd.prefix must be a non-empty string, got ${JSON.stringify(prefix)}`,
    )
  if (
    (username !== undefined && typeof username !== 'string') ||
    (password !== undefined && typeof password !== 'string')
  )
    throw invalidArgument('startServer: etcd.username and etcd.password must be strings')
  if (password !== undefined && username === undefined)
    throw invalidArgument('startServer: etcd.password without etcd.username: give both, or neither')
  if (
    advertise !== undefined &&
    (typeof advertise !== 'string' || addressSyntax(advertise, 'connect') !== 'ok')
  )
    throw invalidArgument(
      `startServer: etcd.advertise must be the address other gateways connect to (tcp://HOST:PORT or ipc://PATH), got ${JSON.stringify(advertise)}`,
    )
  // Without the slash a URL may end with: etcd3 takes what follows the scheme for HOST:PORT.
  const hosts = endpoints.map((url: string) => url.replace(/\/$/, ''))
  return { endpoints: hosts, prefix, username, password, advertise }
}

// HOST:PORT of the /metrics endpoint; plain HTTP, so loopback unless insecure, like tcp addresses.
function resolveMetrics(metrics: unknown, insecure: boolean): { host: string; port: number } | undefined {
  if (metrics === undefined) return undefined
  const listen = typeof metrics === 'string' ? parseHostPort(metrics) : undefined
  if (listen === undefined)
    throw invalidArgument(
      `startServer: metrics must be 'HOST:PORT' (PORT 0 for a free one), got ${JSON.stringify(metrics) ?? String(metrics)}`,
    )
  if (!insecure && !isLoopbackHost(listen.host))
    throw invalidArgument(
      `startServer: metrics ${String(metrics)} is not loopback: serving metrics beyond this machine needs insecure: true`,
    )
  return listen
}

function resolveStorage(options: ServerOptions): StorageOptions | undefined {
  const { dataDir, fsync, repair } = options
  if (dataDir === undefined) {
    if (fsync !== undefined || repair !== undefined)
      throw invalidArgument('startServer: fsync and repair need a dataDir')
    return undefined
  }
  if (typeof dataDir !== 'string' || dataDir === '')
    throw invalidArgument(`startServer: dataDir must be a non-empty path, got ${JSON.stringify(dataDir)}`)
  if (fsync !== undefined && !FSYNC_POLICIES.includes(fsync))
    throw invalidArgument(`startServer: fsync must be 'always', 'interval' or 'never', got ${shown(fsync)}`)
  if (repair !== undefined && typeof repair !== 'boolean')
    throw invalidArgument(`startServer: repair must be a boolean, got ${typeof repair}`)
  return { dir: dataDir, fsync: fsync ?? 'always', repair: repair === true }
}

function resolveCurve(curve: ServerOptions['curve']): CurveServerOptions | undefined {
  if (curve === undefined) return undefined
  if (typeof curve !== 'object' || curve === null)
    throw invalidArgument('startServer: curve must be an object')
  checkKnown(curve, ['publicKey', 'secretKey', 'authorizedKeys', 'services'], 'startServer: curve')
  const { publicKey, secretKey, authorizedKeys, services = 'owned' } = curve
  if (services !== 'owned' && services !== 'shared')
    throw invalidArgument(`startServer: curve.services must be 'owned' or 'shared', got ${shown(services)}`)
  if (!isCurveKey(publicKey) || !isCurveKey(secretKey))
    throw invalidArgument(
      'startServer: curve.publicKey and curve.secretKey must be CURVE keys (40 characters of Z85, see generateKeyPair())',
    )
  checkKeyPair(publicKey, secretKey, 'startServer')
  if (authorizedKeys === 'any') return { publicKey, secretKey, authorizedKeys, services }
  if (authorizedKeys === undefined)
    throw invalidArgument(
      "startServer: curve.authorizedKeys is missing: the client public keys the server lets in, or 'any' to encrypt without checking keys",
    )
  if (!Array.isArray(authorizedKeys))
    throw invalidArgument("startServer: curve.authorizedKeys must be an array of public keys or 'any'")
  // As the command line refuses an authorized-keys file that lists none: such a server is no use.
  if (authorizedKeys.length === 0)
    throw invalidArgument(
      "startServer: curve.authorizedKeys is empty, so no client could connect ('any' encrypts without checking keys)",
    )
  const bad = authorizedKeys.findIndex((key) => !isCurveKey(key))
  if (bad >= 0)
    throw invalidArgument(
      `startServer: curve.authorizedKeys[${bad}] is not a CURVE public key (40 characters of Z85)`,
    )
  return { publicKey, secretKey, authorizedKeys: authorizedKeys.map((key: string) => key), services }
}
