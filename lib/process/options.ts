// SpawnOptions, MapOptions and friends, validated at the boundary: messages name the option, what
// was expected and what arrived.
import { availableParallelism } from 'node:os'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { checkCurveCredentials, type CurveCredentials } from '../link/handshake.ts'
import { checkKnown } from '../known-options.ts'
import { replicateOption } from '../protocol/prefixes.ts'
import type { ContextOptions, ContextServerOptions, MapOptions, SpawnManyOptions } from './types.ts'
import type { PoolOptions } from './warm-pool.ts'
import { MAX_TIMER_MS } from '../timer-limit.ts'
import { shown } from '../protocol/values.ts'
import { routeTo, sendable, type Route } from './cloneable.ts'

export interface ResolvedContextOptions {
  // The server to join, or several gateways to one state (docs/scale-out.md).
  readonly address: readonly string[] | undefined
  readonly server: ContextServerOptions | undefined
  readonly name: string | undefined
  // Client keys for the server at `address`; a context's own server makes its own (server-process.ts).
  readonly curve: CurveCredentials | undefined
  readonly pool: PoolOptions | undefined
}

export interface ResolvedSpawnOptions {
  readonly args: unknown[]
  readonly name: string | undefined
  readonly thread: boolean
  readonly retries: number
  readonly retryOn: ((error: Error) => boolean) | undefined
  readonly retryDelay: number | ((attempt: number, error: Error) => number)
  readonly env: Record<string, string>
  readonly signal: AbortSignal | undefined
  readonly execArgv: string[] | undefined
  // spawn's `count`: that many children, an array of handles.
  readonly count: number | undefined
  // Key prefixes the child replicates; undefined: everything.
  readonly replicate: readonly string[] | undefined
}

export interface ResolvedMapOptions {
  readonly args: unknown[]
  readonly concurrency: number
  readonly retries: number
  readonly signal: AbortSignal | undefined
  readonly onProgress: ((done: number, total?: number) => void) | undefined
  readonly thread: boolean
  readonly execArgv: string[] | undefined
  readonly replicate: readonly string[] | undefined
}

export const DEFAULT_GRACE = 5_000

// An options object whose names are all `known` (a typo is refused rather than ignored); without
// `known`, a record of any names (env).
function object<T extends object>(
  value: unknown,
  what: string,
  known?: readonly (keyof T & string)[],
): Partial<T> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null) throw invalidArgument(`${what}: options must be an object`)
  if (known !== undefined) checkKnown(value, known, what)
  return value
}

function count(value: unknown, what: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw invalidArgument(`${what} must be an integer ≥ ${min}, got ${shown(value)}`)
  return value
}

function signalOption(value: unknown, what: string): AbortSignal | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof AbortSignal)) throw invalidArgument(`${what}: signal must be an AbortSignal`)
  return value
}

function fn<F>(value: unknown, what: string): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw invalidArgument(`${what} must be a function, got ${typeof value}`)
  return value as F
}

export function checkContextOptions(options: unknown): ResolvedContextOptions {
  const o = object<ContextOptions>(options, 'createContext', ['address', 'server', 'curve', 'name', 'pool'])
  const address = typeof o.address === 'string' ? [o.address] : o.address
  if (
    address !== undefined &&
    (!Array.isArray(address) || address.length === 0 || !address.every((a) => typeof a === 'string'))
  )
    throw invalidArgument(
      `createContext: address must be a string or a non-empty list of strings, got ${typeof o.address}`,
    )
  if (o.address !== undefined && o.server !== undefined)
    throw invalidArgument(
      'createContext: give either address (join a server) or server (start one), not both',
    )
  if (o.server !== undefined && (typeof o.server !== 'object' || o.server === null))
    throw invalidArgument('createContext: server must be an object of server options')
  // As spawn's: an empty name would show as nothing in `zstate top`.
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === ''))
    throw invalidArgument(`createContext: name must be a non-empty string, got ${shown(o.name)}`)
  return {
    address: address === undefined ? undefined : [...address],
    server: o.server,
    name: o.name,
    curve: contextCurve(o),
    pool: poolOptions(o.pool),
  }
}

function poolOptions(value: unknown): PoolOptions | undefined {
  if (value === undefined) return undefined
  const o = object<PoolOptions>(value, 'createContext: pool', ['size', 'idleTimeout', 'execArgv'])
  return {
    size: count(o.size, 'createContext: pool.size', availableParallelism(), 1),
    idleTimeout:
      o.idleTimeout === undefined
        ? 30_000
        : checkDelay(o.idleTimeout, 'createContext: pool.idleTimeout', { endless: true }),
    execArgv: flags(o.execArgv, false, 'createContext: pool'),
  }
}

// The client keys of a context that joins a curve server, checked as connect() checks its own.
function contextCurve(o: Partial<ContextOptions>): CurveCredentials | undefined {
  const curve: unknown = o.curve
  if (curve === undefined) return undefined
  if (o.address === undefined)
    throw invalidArgument(
      'createContext: curve holds the keys for joining the server at address; a context that starts its own server takes server.curve',
    )
  return checkCurveCredentials(curve, 'createContext')
}

export function checkSpawnOptions(options: unknown): ResolvedSpawnOptions {
  // Every option, `count` included (Partial makes it optional).
  const o = object<SpawnManyOptions>(options, 'spawn', [
    'args',
    'name',
    'thread',
    'retries',
    'retryOn',
    'retryDelay',
    'env',
    'signal',
    'execArgv',
    'count',
    'replicate',
  ])
  if (o.args !== undefined && !Array.isArray(o.args)) throw invalidArgument('spawn: args must be an array')
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name === ''))
    throw invalidArgument('spawn: name must be a non-empty string')
  if (o.thread !== undefined && typeof o.thread !== 'boolean')
    throw invalidArgument('spawn: thread must be a boolean')
  // Endless retries back off unless told otherwise, so a child that always crashes does not spin.
  const retryDelay = o.retryDelay === undefined ? (o.retries === Infinity ? backOff : 0) : o.retryDelay
  if (typeof retryDelay !== 'function') checkDelay(retryDelay, 'spawn: retryDelay')
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(object<Record<string, string>>(o.env, 'spawn: env'))) {
    if (typeof value !== 'string')
      throw invalidArgument(`spawn: env.${key} must be a string, got ${typeof value}`)
    env[key] = value
  }
  const args = checkCloneable(o.args ?? [], 'spawn: args', routeTo(o.thread === true))
  return {
    args,
    name: o.name,
    thread: o.thread === true,
    // Infinity: until an attempt succeeds or the child is stopped (its signal, stop(), close()).
    retries: o.retries === Infinity ? Infinity : count(o.retries, 'spawn: retries', 0),
    retryOn: fn(o.retryOn, 'spawn: retryOn'),
    retryDelay,
    env,
    signal: signalOption(o.signal, 'spawn'),
    execArgv: flags(o.execArgv, o.thread, 'spawn'),
    count: o.count === undefined ? undefined : count(o.count, 'spawn: count', 1, 1),
    replicate: replicateOption(o.replicate, 'spawn: replicate'),
  }
}

// The default retryDelay of `retries: Infinity`: 10 ms after the first failure, doubling up to 1 s.
const backOff = (attempt: number): number => Math.min(1_000, 10 * 2 ** Math.min(attempt - 1, 10))

export function checkMapOptions(options: unknown): ResolvedMapOptions {
  const o = object<MapOptions>(options, 'map', [
    'args',
    'concurrency',
    'retries',
    'signal',
    'onProgress',
    'thread',
    'execArgv',
    'replicate',
  ])
  if (o.thread !== undefined && typeof o.thread !== 'boolean')
    throw invalidArgument('map: thread must be a boolean')
  if (o.args !== undefined && !Array.isArray(o.args)) throw invalidArgument('map: args must be an array')
  const args = checkCloneable(o.args ?? [], 'map: args', routeTo(o.thread === true))
  return {
    args,
    concurrency: count(o.concurrency, 'map: concurrency', availableParallelism(), 1),
    retries: count(o.retries, 'map: retries', 0),
    signal: signalOption(o.signal, 'map'),
    onProgress: fn(o.onProgress, 'map: onProgress'),
    thread: o.thread === true,
    execArgv: flags(o.execArgv, o.thread, 'map'),
    replicate: replicateOption(o.replicate, 'map: replicate'),
  }
}

// Node flags of a process child; a thread runs with its process's own, so it takes none (they would
// be ignored, and a typo never passes quietly).
function flags(value: unknown, thread: boolean | undefined, what: string): string[] | undefined {
  if (value === undefined) return undefined
  if (thread === true)
    throw invalidArgument(
      `${what}: execArgv is for process children; a thread runs with its process's Node flags`,
    )
  if (!Array.isArray(value) || !value.every((flag) => typeof flag === 'string'))
    throw invalidArgument(`${what}: execArgv must be an array of strings`)
  return [...value]
}

export function checkGrace(options: unknown): number {
  const o = object<{ grace: number }>(options, 'stop', ['grace'])
  if (o.grace === undefined) return DEFAULT_GRACE
  return checkDelay(o.grace, 'stop: grace', { endless: true })
}

// A number of ms a timer can hold (see lib/timer-limit.ts); `endless`: or Infinity, for never.
export function checkDelay(value: unknown, what: string, { endless = false } = {}): number {
  if (endless && value === Infinity) return value
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_TIMER_MS))
    throw invalidArgument(
      `${what} must be a number of ms from 0 to ${MAX_TIMER_MS} (about 24.8 days)${endless ? ' or Infinity' : ''}, got ${shown(value)}`,
    )
  return value
}

// Arguments and items travel by structured clone: refuse what cannot, before anything starts. Returns
// what to send: `value`, its state snapshots made plain copies if it holds any (see sendable()).
export function checkCloneable<T>(value: T, what: string, route: Route): T {
  const sent = sendable(value, route)
  if ('value' in sent) return sent.value as T
  throw new ZStateError(
    ErrorCode.UNENCODABLE,
    `${what} cannot be sent to a child ${route === 'thread' ? '(structured clone)' : '(over its IPC channel)'}: ${sent.error.message}`,
    { cause: sent.error },
  )
}
