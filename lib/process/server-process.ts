// The state server a context starts in a child process (server-main), and how it is stopped.
import { fork, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { curveKeyPair } from '../zmq.ts'
import { ErrorCode, ProcessExitError, TimeoutError, ZStateError, isErrorCode } from '../errors.ts'
import type { CurveCredentials } from '../link/handshake.ts'
import type { ServerOptions } from '../server/options.ts'
import type { ContextServerOptions } from './types.ts'
import { childExecArgv, entryUrl } from './launch.ts'
import type { Watchdog } from './watchdog.ts'

export type ServerMessage =
  | { readonly t: 'started'; readonly address: string }
  | { readonly t: 'failed'; readonly code: string; readonly message: string }

const START_TIMEOUT_MS = 30_000
const CLOSE_TIMEOUT_MS = 5_000
// When its owner dies, the server gives itself 2 s to close (and remove its ipc files) before it
// exits; only a server still there after this long is killed by the owner's watchdog.
const ORPHAN_GRACE_MS = 3_000

interface Ended {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
}

export class ServerProcess {
  readonly address: string
  // On a curve server: the keys the context and its children join with (authorized there).
  readonly curve: CurveCredentials | undefined
  // Where it keeps what it commits (ServerOptions.dataDir); undefined: memory only.
  readonly dataDir: string | undefined
  readonly #child: ChildProcess
  // Resolves with how the process ended, whenever it does.
  readonly ended: Promise<Ended>
  // The private temp dir a server given no address binds in. It removes the dir as it closes; one
  // that was killed leaves it behind, with its socket files, for the context to remove.
  readonly #privateDir: string | undefined
  #closing: Promise<void> | undefined

  private constructor(
    child: ChildProcess,
    address: string,
    curve: CurveCredentials | undefined,
    ended: Promise<Ended>,
    privateDir: string | undefined,
    dataDir: string | undefined,
  ) {
    this.#child = child
    this.address = address
    this.curve = curve
    this.dataDir = dataDir
    this.ended = ended
    this.#privateDir = privateDir
  }

  static async start(given: ContextServerOptions, watchdog: Watchdog): Promise<ServerProcess> {
    const { options, curve } = authorizeContext(given)
    // A URL does not survive structured clone; the server takes its href just as well.
    const actions = options.actions instanceof URL ? options.actions.href : options.actions
    const child = fork(fileURLToPath(entryUrl('server-main')), [], {
      execArgv: childExecArgv(),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true, // its own process group: a terminal's Ctrl-C goes to the parent, which closes it
    })
    watchdog.watch(child, ORPHAN_GRACE_MS)
    const ended = new Promise<Ended>((resolve) =>
      child.once('exit', (exitCode, signal) => resolve({ exitCode, signal })),
    )
    try {
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new TimeoutError(`the state server did not start within ${START_TIMEOUT_MS} ms`)),
          START_TIMEOUT_MS,
        )
        child.once('exit', (exitCode, signal) => {
          clearTimeout(timer)
          const how = signal === null ? `exited with code ${exitCode}` : `was killed by ${signal}`
          reject(
            new ProcessExitError(`the state server process ${how} before it started`, {
              exitCode,
              signal,
              stderr: '',
            }),
          )
        })
        child.once('message', (message: ServerMessage) => {
          clearTimeout(timer)
          if (message.t === 'started') return resolve(message.address)
          const code = isErrorCode(message.code) ? message.code : ErrorCode.INVALID_ARGUMENT
          reject(new ZStateError(code, message.message))
        })
        // Over the IPC channel: the server's secret key never appears on a command line.
        child.send({ t: 'start', options: { ...options, ...(actions === undefined ? {} : { actions }) } })
      })
      const privateDir =
        options.address === undefined && address.startsWith('ipc://')
          ? dirname(address.slice('ipc://'.length))
          : undefined
      if (privateDir !== undefined) watchdog.removesAfter(child, privateDir)
      return new ServerProcess(child, address, curve, ended, privateDir, options.dataDir)
    } catch (error) {
      child.kill('SIGKILL')
      await ended
      throw error
    }
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  // Asks the server to close and exit; kills it if it has not within a few seconds.
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#child.exitCode === null && this.#child.signalCode === null) {
        if (this.#child.connected) this.#child.send({ t: 'close' }, (error) => void error)
        const timer = setTimeout(() => this.#child.kill('SIGKILL'), CLOSE_TIMEOUT_MS)
        await this.ended
        clearTimeout(timer)
      }
      if (this.#privateDir !== undefined) rmSync(this.#privateDir, { recursive: true, force: true })
    })()
    return this.#closing
  }
}

// On a curve server, a key pair for the context and its children, added to the authorized keys
// (unless every key is welcome). A curve option that is not an object of keys goes to the server
// as given, which refuses it.
function authorizeContext(options: ContextServerOptions): {
  options: ServerOptions
  curve: CurveCredentials | undefined
} {
  const curve: unknown = options.curve
  // Not keys: for the server to refuse as given.
  const asGiven = { options: options as ServerOptions, curve: undefined }
  if (typeof curve !== 'object' || curve === null) return asGiven
  const { publicKey, authorizedKeys } = curve as { publicKey?: unknown; authorizedKeys?: unknown }
  if (typeof publicKey !== 'string') return asGiven
  const keys = curveKeyPair()
  // None given: the context and its children only.
  const authorized =
    authorizedKeys === undefined
      ? [keys.publicKey]
      : Array.isArray(authorizedKeys)
        ? [...(authorizedKeys as unknown[]), keys.publicKey]
        : authorizedKeys
  return {
    options: {
      ...options,
      curve: { ...curve, authorizedKeys: authorized } as NonNullable<ServerOptions['curve']>,
    },
    curve: { serverKey: publicKey, ...keys },
  }
}
