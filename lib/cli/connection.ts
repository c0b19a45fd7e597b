// Opens the client connection every client command uses, with the command line's timeout and keys.
import { ErrorCode, ZStateError, connect } from '../index.ts'
import type { Client, ConnectOptions } from '../index.ts'
import type { RunOptions } from './args.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { onTermination, unlessAborted } from './signals.ts'
import { abortable } from '../abort.ts'
import { readKeyPair } from './key-files.ts'
import { checkSocketFile } from '../socket-file.ts'
import { addressList } from '../protocol/address.ts'

export type CliClient = Client

// The keys a command reads (connect()'s `replicate`): a command that reads one key, or none, does not
// download the whole store first, which on a large store would take longer than its --timeout.
// Undefined: every key (top and the dashboard show the whole state).
export type Reads = readonly string[] | undefined

export async function openClient(
  options: RunOptions,
  command: string,
  io: Io,
  { reads, signal }: { reads?: Reads; signal?: AbortSignal } = {},
): Promise<CliClient> {
  const curve = await credentials(options, io)
  // Several gateways to one state: comma-separated, as in ZSTATE_ADDRESS.
  const addresses = options.address === undefined ? undefined : addressList(options.address)
  if (addresses?.length === 1) await checkSocketFile(addresses[0]!, options.timeout)
  try {
    return await connect(addresses, {
      timeout: options.timeout,
      requestTimeout: options.timeout,
      name: `zstate ${command}`,
      ...(reads === undefined ? {} : { replicate: [...reads] }),
      ...(curve === undefined ? {} : { curve }),
      ...(signal === undefined ? {} : { signal }),
    })
  } catch (error) {
    throw error instanceof ZStateError ? inCommandLineTerms(error, options, curve) : error
  }
}

// Runs fn with a client that is closed afterwards, whatever happens. SIGINT/SIGTERM end it with
// ERR_ABORTED (`interrupted by SIGINT`, exit 1), its session closed, so that a call it left queued at
// the server is withdrawn rather than run for nobody.
export async function withClient<T>(
  options: RunOptions,
  command: string,
  io: Io,
  reads: Reads,
  fn: (client: CliClient) => Promise<T>,
): Promise<T> {
  const termination = onTermination()
  const { signal } = termination
  try {
    const client = await openClient(options, command, io, { reads, signal })
    try {
      return await abortable(fn(client), signal)
    } finally {
      await client.close()
    }
  } finally {
    termination.dispose()
  }
}

// A streaming command (watch, sub): `stream` runs on a client until it ends or SIGINT/SIGTERM (or its
// reader going away) aborts `signal`; interrupted is a normal end (exit 0), whatever the stream then
// throws.
export async function untilTerminated(
  options: RunOptions,
  command: string,
  io: Io,
  reads: Reads,
  stream: (client: CliClient, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const termination = onTermination(true)
  const { signal } = termination
  try {
    const client = await unlessAborted(openClient(options, command, io, { reads }), signal)
    if (client === undefined) return EXIT_OK
    try {
      await stream(client, signal)
    } catch (error) {
      // Interrupted: the stream may end quietly or throw the signal's reason.
      if (!signal.aborted) throw error
    } finally {
      await client.close()
    }
    return EXIT_OK
  } finally {
    termination.dispose()
  }
}

async function credentials(options: RunOptions, io: Io): Promise<ConnectOptions['curve']> {
  if (options.curveClient === undefined) return undefined
  const { serverKey, keyFile, keyFileSource } = options.curveClient
  const { publicKey, secretKey } = await readKeyPair(keyFile, keyFileSource, io)
  return { serverKey, publicKey, secretKey }
}

// connect()'s error in the words of the command line: its flags instead of connect()'s options.
function inCommandLineTerms(
  error: ZStateError,
  options: RunOptions,
  curve: ConnectOptions['curve'],
): ZStateError {
  const message = reworded(error, options, curve)
  return message === error.message ? error : new ZStateError(error.code, message, { cause: error })
}

function reworded(error: ZStateError, options: RunOptions, curve: ConnectOptions['curve']): string {
  switch (error.code) {
    case ErrorCode.UNAUTHORIZED:
      return refusal(error.message, options, curve)
    // A key connect() finds unusable (a weak one, such as 40 zeros).
    case ErrorCode.INVALID_ARGUMENT:
      return error.message.replace('curve.serverKey', '--server-key')
    // The command replicates no more than it reads already: what is left to the user is the timeout.
    case ErrorCode.TIMEOUT:
      return error.message.replace(/: a replica of fewer keys .*/, ': raise --timeout')
    default:
      return error.message
  }
}

// A refusal of the handshake, told with the flags that fix it.
function refusal(message: string, options: RunOptions, curve: ConnectOptions['curve']): string {
  if (curve === undefined) {
    return (
      `${options.address ?? 'the server'} requires CurveZMQ: pass --server-key KEY and --key-file F ` +
      '(or set ZSTATE_SERVER_KEY and ZSTATE_KEY_FILE)'
    )
  }
  return message
    .replace('connect without curve', 'leave out --server-key and --key-file')
    .replace('curve.serverKey', '--server-key')
}
