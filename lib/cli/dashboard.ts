// `zstate dashboard`: serves the live web page over one client until SIGINT/SIGTERM.
import { randomBytes } from 'node:crypto'
import { isLoopback } from '../dashboard/auth.ts'
import { startDashboard } from '../dashboard/server.ts'
import { UsageError, type RunOptions } from './args.ts'
import { openClient } from './connection.ts'
import { toJson } from './json.ts'
import { EXIT_OK, type Io } from './report.ts'
import { aborted, onTermination, unlessAborted } from './signals.ts'

const DEFAULT_HOST = '127.0.0.1'
const DEFAULT_PORT = 7070
const MIN_TOKEN_LENGTH = 16

export async function dashboard(options: RunOptions, io: Io): Promise<number> {
  const host = options.host ?? DEFAULT_HOST
  // Off loopback, anyone who can reach the port could read the whole state: a token of the user's own
  // (one made up here is printed once, to this terminal).
  if (!isLoopback(host) && options.token === undefined)
    throw new UsageError(
      `--host ${host} is not a loopback address: anyone who can reach it could read the state, ` +
        'so pass --token T as well (every request must then carry it)',
      'dashboard',
    )
  // The token is all that stands between any user of this machine (or, off loopback, of the network)
  // and the state: a short one is guessed by trying.
  if (options.token !== undefined && options.token.length < MIN_TOKEN_LENGTH)
    throw new UsageError(
      `--token must be at least ${MIN_TOKEN_LENGTH} characters long (a short one can be guessed): ` +
        'make one with openssl rand -hex 16, or leave --token out for a random one',
      'dashboard',
    )
  // It travels in a header (Authorization: Bearer T) as well as in the URL: a header's value loses
  // spaces at its ends, and takes visible ASCII only.
  if (options.token !== undefined && !/^[\x21-\x7e]+$/.test(options.token))
    throw new UsageError(
      '--token must be visible ASCII characters only, without spaces (it is sent in a header): ' +
        'make one with openssl rand -hex 16, or leave --token out for a random one',
      'dashboard',
    )
  const termination = onTermination()
  const { signal } = termination
  try {
    const client = await unlessAborted(openClient(options, 'dashboard', io), signal)
    if (client === undefined) return EXIT_OK
    try {
      const board = await startDashboard({
        client,
        host,
        port: options.port ?? DEFAULT_PORT,
        encode: toJson,
        token: options.token ?? randomBytes(16).toString('base64url'),
      })
      try {
        io.stdout.write(`${board.url}\n`)
        io.stderr.write('zstate: dashboard running; Ctrl-C stops it\n')
        await aborted(signal)
      } finally {
        await board.close()
      }
    } finally {
      await client.close()
    }
    return EXIT_OK
  } finally {
    termination.dispose()
  }
}
