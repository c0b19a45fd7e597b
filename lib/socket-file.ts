// An ipc address names a socket file, which says at once what connect() would wait out --timeout
// to learn: no file, or a file nothing listens on (a server that was killed leaves it behind),
// means no server. And a server bound on a path where another listens would silently take the path
// over (libzmq replaces the file), leaving that server unreachable.
import { stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { invalidArgument } from './errors.ts'

type Found = 'listening' | 'missing' | 'stale' | 'not a socket' | 'denied' | 'unknown'

// Before a client command connects: fails unless a server may be listening.
export async function checkSocketFile(address: string, timeout: number): Promise<void> {
  const path = socketPath(address)
  if (path === undefined) return
  const problems: Partial<Record<Found, string>> = {
    missing: 'the socket file does not exist',
    stale: 'nothing listens on its socket file (left behind by a server that was killed?)',
    'not a socket': `${path} is not a socket`,
    denied: `permission denied on ${path}`,
  }
  const problem = problems[await inspect(path, timeout)]
  if (problem !== undefined) throw new Error(`no server at ${address}: ${problem}`)
}

// Before a server binds: ERR_INVALID_ARGUMENT when another server listens there (as a bound tcp port
// is refused). A socket that does not answer within `timeout` is taken over.
export async function checkSocketFree(address: string, timeout: number): Promise<void> {
  const path = socketPath(address)
  if (path !== undefined && (await inspect(path, timeout)) === 'listening')
    throw invalidArgument(`${address}: another server listens there; stop it first, or choose another path`)
}

// The file of an ipc address; none for tcp, or for Linux's abstract namespace (ipc://@name).
function socketPath(address: string): string | undefined {
  const path = address.startsWith('ipc://') ? address.slice('ipc://'.length) : '@'
  return path.startsWith('@') ? undefined : path
}

async function inspect(path: string, timeout: number): Promise<Found> {
  const code = await stat(path).then(
    (info) => (info.isSocket() ? 'socket' : 'not a socket'),
    (error: NodeJS.ErrnoException) => error.code,
  )
  if (code === 'socket') return probe(path, timeout)
  return code === 'not a socket' ? code : fromErrno(code)
}

function fromErrno(code: string | undefined): Found {
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing'
  if (code === 'ECONNREFUSED') return 'stale'
  return code === 'EACCES' ? 'denied' : 'unknown'
}

// Connects and hangs up at once. No answer within the timeout is 'unknown': connect() then reports.
function probe(path: string, timeout: number): Promise<Found> {
  return new Promise((resolve) => {
    const socket = createConnection({ path })
    const done = (found: Found): void => {
      socket.destroy()
      resolve(found)
    }
    socket.setTimeout(timeout, () => done('unknown'))
    socket.once('connect', () => done('listening'))
    socket.once('error', (error: NodeJS.ErrnoException) => done(fromErrno(error.code)))
  })
}
