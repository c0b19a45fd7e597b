// Where the server binds: validates the requested address and derives the PUB endpoint from it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { checkIpcPath, isLoopbackHost, parseTcp } from '../protocol/address.ts'

export interface Endpoints {
  router: string
  // Bind address for PUB; for tcp the port is chosen by the OS.
  pub: string
  // Bind address for the topic PUB (messaging), likewise.
  topics: string
  // Removes what we created (the private temp dir) and the socket files, after the sockets are closed.
  cleanup: () => void
  // Removes only what planning created (the private temp dir), when nothing was bound.
  discard: () => void
}

export function planEndpoints(address: string | undefined, insecure: boolean): Endpoints {
  if (address === undefined) {
    const dir = privateDir()
    const removeDir = (): void => {
      rmSync(dir, { recursive: true, force: true })
      forget(dir)
    }
    const router = join(dir, 'state')
    try {
      checkIpcPath(router)
    } catch (error) {
      removeDir()
      throw error
    }
    return {
      router: `ipc://${router}`,
      pub: `ipc://${router}.pub`,
      topics: `ipc://${router}.topics`,
      cleanup: removeDir,
      discard: removeDir,
    }
  }
  if (typeof address !== 'string') throw invalidArgument(`address must be a string, got ${typeof address}`)
  if (address.startsWith('ipc://')) {
    const given = address.slice('ipc://'.length)
    if (given === '' || given === '*')
      throw invalidArgument(`address ${address}: give an ipc path, or omit address for a private one`)
    // Absolute: the address the server reports, and the change stream's it hands out, must reach it
    // from a client in any directory.
    const path = resolve(given)
    checkIpcPath(path)
    // libzmq leaves the socket files behind when a socket closes without unbinding.
    const cleanup = (): void => {
      for (const file of [path, `${path}.pub`, `${path}.topics`]) rmSync(file, { force: true })
    }
    const router = `ipc://${path}`
    return { router, pub: `${router}.pub`, topics: `${router}.topics`, cleanup, discard: () => {} }
  }
  const tcp = parseTcp(address)
  if (tcp === null) throw invalidArgument(`address must be ipc://PATH or tcp://HOST:PORT, got ${address}`)
  const host = tcp[1]!
  if (!insecure && !isLoopbackHost(host)) {
    throw invalidArgument(
      `address ${address} is not loopback: tcp beyond this machine needs curve, or insecure: true (zstate serve --insecure)`,
    )
  }
  const nothing = (): void => {}
  return {
    router: address,
    pub: `tcp://${host}:*`,
    topics: `tcp://${host}:*`,
    cleanup: nothing,
    discard: nothing,
  }
}

// The private directories of this process's servers that are still open: removed if the process exits
// without closing them (process.exit(), an uncaught error). A signal's default action runs no code.
const openDirs = new Set<string>()

function removeOpenDirs(): void {
  for (const dir of openDirs) rmSync(dir, { recursive: true, force: true })
}

function forget(dir: string): void {
  if (openDirs.delete(dir) && openDirs.size === 0) process.off('exit', removeOpenDirs)
}

// The private directory of the default address; a TMPDIR that cannot hold one is the caller's to fix.
function privateDir(): string {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'zstate-'))
    if (openDirs.size === 0) process.on('exit', removeOpenDirs)
    openDirs.add(dir)
    return dir
  } catch (error) {
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot make a private directory for the server's sockets: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
