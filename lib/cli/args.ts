// Turns argv into one validated invocation; anything malformed is a UsageError (exit code 2).
import { parseArgs } from 'node:util'
import { ErrorCode, ZStateError } from '../errors.ts'
import {
  addressList,
  addressSyntax,
  isEtcdEndpoint,
  isLoopbackHost,
  parseHostPort,
} from '../protocol/address.ts'
import { MAX_TTL_MS } from '../protocol/leases.ts'
import { isCurveKey } from '../protocol/z85.ts'
import { MAX_TIMER_MS } from '../timer-limit.ts'
import { COMMANDS, OPTIONS, isCommandName } from './catalog.ts'
import type { CommandName, CommandSpec, OptionName } from './catalog.ts'

export class UsageError extends ZStateError {
  readonly command: CommandName | undefined
  constructor(message: string, command?: CommandName) {
    super(ErrorCode.INVALID_ARGUMENT, message)
    this.command = command
  }
  override get name(): string {
    return 'UsageError'
  }
}

export interface RunOptions {
  readonly address?: string
  readonly timeout: number
  readonly actions?: string
  readonly insecure: boolean
  readonly dataDir?: string
  readonly fsync?: 'always' | 'interval' | 'never'
  readonly repair?: true
  /** serve: --metrics HOST:PORT. */
  readonly metrics?: string
  /** serve: --etcd URLS and --etcd-prefix P. */
  readonly etcd?: readonly string[]
  readonly etcdPrefix?: string
  readonly etcdAdvertise?: string
  readonly fromRevision?: number
  /** set: --ttl MS. */
  readonly ttl?: number
  readonly once?: true
  readonly json?: true
  /** services: --table instead of JSON lines. */
  readonly table?: true
  readonly resume?: true
  /** dashboard: --port (0 to 65535), --host and --token. */
  readonly port?: number
  readonly host?: string
  readonly token?: string
  /** serve: --curve-secret-file and --authorized-keys, which come together. */
  readonly curveServer?: { readonly keyFile: string; readonly authorizedKeys: 'any' | { file: string } }
  /** Client commands: --server-key and --key-file (or their variables), which come together. */
  readonly curveClient?: {
    readonly serverKey: string
    readonly keyFile: string
    readonly keyFileSource: string
  }
}

export type Invocation =
  // `missingCommand`: `zstate` alone, which prints the help but, as no command ran, exits 2.
  | { readonly kind: 'help'; readonly command?: CommandName; readonly missingCommand?: true }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run'
      readonly command: Exclude<CommandName, 'help'>
      readonly args: readonly string[]
      readonly options: RunOptions
    }

export const DEFAULT_TIMEOUT = 5_000

// Arguments that are negative numbers (`zstate set n -1`) would otherwise read as options.
const NEGATIVE_NUMBER = /^-\d/
const PLACEHOLDER = '\u0000zstate-arg:'

export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  const { positionals, values, problem } = tokenize(argv)
  const [name, ...args] = positionals
  // A malformed option is told with the command's usage line, wherever it stood.
  if (problem !== undefined)
    throw new UsageError(problem, name !== undefined && isCommandName(name) ? name : undefined)
  if (values.has('version')) return { kind: 'version' }
  if (name === 'help' || (values.has('help') && name === undefined)) {
    const target = name === 'help' ? args[0] : undefined
    if (target === undefined) return { kind: 'help' }
    if (!isCommandName(target)) throw new UsageError(`unknown command "${target}"`)
    if (args.length > 1) throw new UsageError(`unexpected argument "${args[1]}"`, 'help')
    return { kind: 'help', command: target }
  }
  if (name === undefined) return { kind: 'help', missingCommand: true }
  if (!isCommandName(name)) throw new UsageError(`unknown command "${name}"`)
  if (values.has('help') || name === 'help') return { kind: 'help', command: name }
  const spec: CommandSpec = COMMANDS[name]
  const allowed: readonly OptionName[] = spec.options
  for (const option of values.keys()) {
    if (!allowed.includes(option))
      throw new UsageError(`option --${option} does not apply to "${name}"`, name)
  }
  const required: readonly string[] = spec.required
  const optional: readonly string[] = spec.optional
  if (args.length < required.length) throw new UsageError(`missing ${required[args.length]}`, name)
  const extra = spec.repeats === true ? undefined : args[required.length + optional.length]
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, name)
  // dashboard also takes its server as an argument: `zstate dashboard ADDRESS`.
  const positional = name === 'dashboard' && args[0] !== undefined
  if (positional) {
    if (values.has('address')) throw new UsageError('pass the address once: ADDRESS or --address', name)
    values.set('address', args[0]!)
  }
  return {
    kind: 'run',
    command: name,
    args,
    options: runOptions(name, values, env, positional ? 'argument ADDRESS' : 'option --address'),
  }
}

// `addressSource`: where an address in `values` came from, as a usage error names it.
function runOptions(
  name: Exclude<CommandName, 'help'>,
  values: Map<OptionName, string | true>,
  env: NodeJS.ProcessEnv,
  addressSource: string,
): RunOptions {
  const timeout = integer(values.get('timeout'), 'timeout', name, 1) ?? DEFAULT_TIMEOUT
  // Revisions start at 1, as watch({ fromRevision }) takes them.
  const fromRevision = integer(values.get('from-revision'), 'from-revision', name, 1)
  const ttl = integer(values.get('ttl'), 'ttl', name, 1)
  if (ttl !== undefined && ttl > MAX_TTL_MS)
    throw new UsageError(`option --ttl expects at most ${MAX_TTL_MS} ms (a year), got "${ttl}"`, name)
  const port = integer(values.get('port'), 'port', name, 0)
  if (port !== undefined && port > 65535)
    throw new UsageError(`option --port expects a port (0 to 65535), got "${port}"`, name)
  const host = values.get('host')
  const token = values.get('token')
  if (host === '' || token === '')
    throw new UsageError(`option --${host === '' ? 'host' : 'token'} must not be empty`, name)
  const actions = values.get('actions')
  if (actions === '') throw new UsageError('option --actions must not be empty', name)
  const dataDir = values.get('data-dir')
  if (dataDir === '') throw new UsageError('option --data-dir must not be empty', name)
  const fsync = values.get('fsync')
  if (fsync !== undefined && fsync !== 'always' && fsync !== 'interval' && fsync !== 'never')
    throw new UsageError(`option --fsync must be always, interval or never, got ${String(fsync)}`, name)
  if ((fsync !== undefined || values.has('repair')) && dataDir === undefined)
    throw new UsageError('options --fsync and --repair need --data-dir', name)
  if (values.has('json') && values.has('table'))
    throw new UsageError('options --json and --table exclude each other', name)
  const metrics = values.get('metrics')
  if (typeof metrics === 'string') checkMetrics(metrics, values.has('insecure'), name)
  const etcd = etcdOptions(values, dataDir !== undefined, name)
  let address = values.get('address')
  let source = addressSource
  if (address === '') throw new UsageError(`${source} must not be empty`, name)
  // The commands that join a server; serve starts one, demo and keygen need none.
  const client = name !== 'serve' && COMMANDS[name].options.some((option) => option === 'address')
  if (client && address === undefined) {
    address = env['ZSTATE_ADDRESS'] === '' ? undefined : env['ZSTATE_ADDRESS']
    source = 'ZSTATE_ADDRESS'
    if (address === undefined)
      throw new UsageError('no server address: pass --address A or set ZSTATE_ADDRESS', name)
  }
  // A client may name several gateways to one state, comma-separated (as in ZSTATE_ADDRESS).
  if (typeof address === 'string')
    for (const one of client ? addressList(address) : [address]) checkAddress(one, source, name)
  return {
    timeout,
    insecure: values.has('insecure'),
    ...(values.has('once') ? { once: true as const } : {}),
    ...(values.has('json') ? { json: true as const } : {}),
    ...(values.has('table') ? { table: true as const } : {}),
    ...(values.has('resume') ? { resume: true as const } : {}),
    ...(typeof address === 'string' ? { address } : {}),
    ...(typeof actions === 'string' ? { actions } : {}),
    ...(typeof dataDir === 'string' ? { dataDir } : {}),
    ...(fsync !== undefined ? { fsync } : {}),
    ...(values.has('repair') ? { repair: true as const } : {}),
    ...(typeof metrics === 'string' ? { metrics } : {}),
    ...etcd,
    ...(fromRevision !== undefined ? { fromRevision } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(typeof host === 'string' ? { host } : {}),
    ...(typeof token === 'string' ? { token } : {}),
    ...curveOptions(name, values, client ? env : {}),
  }
}

// The curve options come in pairs: half of one is a usage error. Client commands also read their
// pair from the environment (an empty variable counts as unset), option by option.
function curveOptions(
  name: Exclude<CommandName, 'help'>,
  values: Map<OptionName, string | true>,
  env: NodeJS.ProcessEnv,
): Pick<RunOptions, 'curveServer' | 'curveClient'> {
  const keyFile = setting(values, 'curve-secret-file', undefined, env, name)
  const authorized = setting(values, 'authorized-keys', undefined, env, name)
  if (keyFile !== undefined || authorized !== undefined) {
    if (keyFile === undefined || authorized === undefined)
      throw new UsageError('options --curve-secret-file and --authorized-keys go together', name)
    const authorizedKeys = authorized.value === 'any' ? 'any' : { file: authorized.value }
    return { curveServer: { keyFile: keyFile.value, authorizedKeys } }
  }
  const serverKey = setting(values, 'server-key', 'ZSTATE_SERVER_KEY', env, name)
  const clientFile = setting(values, 'key-file', 'ZSTATE_KEY_FILE', env, name)
  if (serverKey === undefined) {
    if (clientFile === undefined) return {}
    throw new UsageError(`${clientFile.source} needs --server-key KEY or ZSTATE_SERVER_KEY as well`, name)
  }
  if (clientFile === undefined)
    throw new UsageError(`${serverKey.source} needs --key-file F or ZSTATE_KEY_FILE as well`, name)
  if (!isCurveKey(serverKey.value))
    throw new UsageError(
      `${serverKey.source} expects a public key (40 Z85 characters), got ${JSON.stringify(serverKey.value)}`,
      name,
    )
  return {
    curveClient: { serverKey: serverKey.value, keyFile: clientFile.value, keyFileSource: clientFile.source },
  }
}

// A string option, else its environment variable; with where it came from, for messages.
function setting(
  values: Map<OptionName, string | true>,
  option: OptionName,
  variable: string | undefined,
  env: NodeJS.ProcessEnv,
  name: Exclude<CommandName, 'help'>,
): { value: string; source: string } | undefined {
  const value = values.get(option)
  if (value === '') throw new UsageError(`option --${option} must not be empty`, name)
  if (typeof value === 'string') return { value, source: `option --${option}` }
  const fromEnv = variable === undefined ? undefined : env[variable]
  if (variable === undefined || fromEnv === undefined || fromEnv === '') return undefined
  return { value: fromEnv, source: variable }
}

// A malformed address is a usage error wherever it came from; what the server or the network then
// makes of a well-formed one is a runtime error.
// serve --etcd URLS [--etcd-prefix P]: the etcd cluster this server is a gateway to.
function etcdOptions(
  values: Map<OptionName, string | true>,
  hasDataDir: boolean,
  name: Exclude<CommandName, 'help'>,
): { etcd?: string[]; etcdPrefix?: string; etcdAdvertise?: string } {
  const urls = values.get('etcd')
  const prefix = values.get('etcd-prefix')
  const advertise = values.get('etcd-advertise')
  if (urls === undefined) {
    if (prefix !== undefined || advertise !== undefined)
      throw new UsageError(
        `option --${prefix !== undefined ? 'etcd-prefix' : 'etcd-advertise'} needs --etcd`,
        name,
      )
    return {}
  }
  if (advertise !== undefined && addressSyntax(String(advertise), 'connect') !== 'ok')
    throw new UsageError(
      `option --etcd-advertise expects the address other gateways connect to (ipc://PATH or tcp://HOST:PORT), got "${String(advertise)}"`,
      name,
    )
  if (hasDataDir) throw new UsageError('options --etcd and --data-dir exclude each other', name)
  const endpoints = String(urls).split(',')
  if (!endpoints.every(isEtcdEndpoint))
    throw new UsageError(
      `option --etcd expects URLs like http://127.0.0.1:2379[,…], got "${String(urls)}"`,
      name,
    )
  if (prefix === '') throw new UsageError('option --etcd-prefix must not be empty', name)
  return {
    etcd: endpoints,
    ...(typeof prefix === 'string' ? { etcdPrefix: prefix } : {}),
    ...(typeof advertise === 'string' ? { etcdAdvertise: advertise } : {}),
  }
}

function checkAddress(address: string, source: string, name: Exclude<CommandName, 'help'>): void {
  const serving = name === 'serve'
  switch (addressSyntax(address, serving ? 'bind' : 'connect')) {
    case 'scheme': {
      const forms = serving
        ? 'ipc://PATH or tcp://HOST:PORT (PORT may be *)'
        : 'ipc://PATH or tcp://HOST:PORT'
      throw new UsageError(`${source} expects ${forms}, got ${JSON.stringify(address)}`, name)
    }
    case 'port':
      throw new UsageError(
        `${source} expects the port the server bound, got ${JSON.stringify(address)} ` +
          '(tcp://HOST:* is for serve, which prints the address to use)',
        name,
      )
  }
}

// --metrics HOST:PORT serves plain HTTP: beyond loopback only with --insecure, as startServer has it.
function checkMetrics(value: string, insecure: boolean, name: Exclude<CommandName, 'help'>): void {
  const listen = parseHostPort(value)
  if (listen === undefined)
    throw new UsageError(
      `option --metrics expects HOST:PORT (PORT 0 for a free one), got ${JSON.stringify(value)}`,
      name,
    )
  if (!insecure && !isLoopbackHost(listen.host))
    throw new UsageError(`option --metrics ${value} is not loopback: add --insecure to serve it there`, name)
}

function integer(
  raw: string | true | undefined,
  option: OptionName,
  command: CommandName,
  min: number,
): number | undefined {
  if (raw === undefined || raw === true) return undefined
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN
  const max = option === 'timeout' ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER
  if (!(n >= min && n <= max)) {
    const range = max === MAX_TIMER_MS ? `from ${min} to ${max}` : `≥ ${min}`
    throw new UsageError(`option --${option} expects an integer ${range}, got "${raw}"`, command)
  }
  return n
}

// parseArgs in its lenient mode, so that every complaint can be worded here.
function tokenize(argv: readonly string[]): {
  positionals: string[]
  values: Map<OptionName, string | true>
  // The first malformed option, told once the command is known.
  problem: string | undefined
} {
  const args = argv.map((a, i) => (NEGATIVE_NUMBER.test(a) ? `${PLACEHOLDER}${i}` : a))
  const restore = (a: string): string =>
    a.startsWith(PLACEHOLDER) ? (argv[Number(a.slice(PLACEHOLDER.length))] ?? a) : a
  const { tokens } = parseArgs({
    args,
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  const positionals: string[] = []
  const values = new Map<OptionName, string | true>()
  let problem: string | undefined
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(restore(token.value))
    if (token.kind !== 'option') continue
    if (!Object.prototype.hasOwnProperty.call(OPTIONS, token.name)) {
      problem ??= `unknown option ${token.rawName}`
      continue
    }
    const name = token.name as OptionName
    if (OPTIONS[name].type === 'boolean') {
      if (token.value !== undefined) problem ??= `option ${token.rawName} takes no value`
      values.set(name, true)
    } else {
      const value = token.value === undefined ? undefined : restore(token.value)
      if (
        value === undefined ||
        (!token.inlineValue &&
          value.startsWith('-') &&
          !NEGATIVE_NUMBER.test(value) &&
          !dashedKey(name, value))
      ) {
        problem ??= `option ${token.rawName} needs a value`
        continue
      }
      values.set(name, value)
    }
  }
  return { positionals, values, problem }
}

// One key in 80 or so starts with '-' (Z85 has it): the value of --server-key, not an option.
function dashedKey(name: OptionName, value: string): boolean {
  return name === 'server-key' && isCurveKey(value)
}
