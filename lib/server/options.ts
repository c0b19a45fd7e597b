// ServerOptions as docs/state.md defines them, validated at the boundary.
import { invalidArgument } from '../errors.ts'
import type { HistoryLimits } from './history.ts'
import type { ServerOptions } from './types.ts'

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
}

export type FsyncPolicy = 'always' | 'interval' | 'never'

export interface StorageOptions {
  dir: string
  fsync: FsyncPolicy
  repair: boolean
}

const NOT_YET = ['curve'] as const
const FSYNC_POLICIES: readonly unknown[] = ['always', 'interval', 'never']

function positiveInteger(value: unknown, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(`startServer: ${name} must be an integer ≥ ${min}, got ${String(value)}`)
  }
  return value
}

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
  for (const name of NOT_YET) {
    if (options[name] !== undefined)
      throw invalidArgument(`startServer: ${name} is not supported by this version of zstate yet`)
  }
  const history = options.history ?? {}
  return {
    storage: resolveStorage(options),
    address: options.address,
    insecure: options.insecure === true,
    history: {
      revisions: positiveInteger(history.revisions, 'history.revisions', 10_000),
      bytes: positiveInteger(history.bytes, 'history.bytes', 64 << 20),
    },
    maxMessageBytes: positiveInteger(options.maxMessageBytes, 'maxMessageBytes', 16 << 20, 1024),
    heartbeatMs: positiveInteger(options.heartbeatMs, 'heartbeatMs', 500, 10),
    publishHighWaterMark: positiveInteger(options.publishHighWaterMark, 'publishHighWaterMark', 10_000),
    maxQueuedCalls: positiveInteger(options.maxQueuedCalls, 'maxQueuedCalls', 10_000, 0),
  }
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
    throw invalidArgument(`startServer: fsync must be 'always', 'interval' or 'never', got ${String(fsync)}`)
  if (repair !== undefined && typeof repair !== 'boolean')
    throw invalidArgument(`startServer: repair must be a boolean, got ${typeof repair}`)
  return { dir: dataDir, fsync: fsync ?? 'always', repair: repair === true }
}
