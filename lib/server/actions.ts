// Server actions (state.run): named exports of a module deployed with the server, run atomically
// where the data is. Clients can only name an action, never send code.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ErrorCode, RemoteError, ZStateError, invalidArgument } from '../errors.ts'
import { DraftRecorder } from '../protocol/draft.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { adoptDecoded, toStoredValue } from '../protocol/values.ts'
import type { StoreView } from './store.ts'

export type Action = (draft: Record<string, unknown>, ...args: unknown[]) => unknown
export type Actions = ReadonlyMap<string, Action>

// Loads the module once at start; a module that fails to load makes startServer fail.
export async function loadActions(spec: string | URL | undefined): Promise<Actions> {
  if (spec === undefined) return new Map()
  const url =
    spec instanceof URL
      ? spec
      : /^[a-z]+:/i.test(spec) && !/^[a-z]:\\/i.test(spec)
        ? new URL(spec)
        : pathToFileURL(spec)
  let module: Record<string, unknown>
  try {
    module = (await import(url.href)) as Record<string, unknown>
  } catch (error) {
    // For a missing file Node names the importing one, which is zstate's own and says nothing to
    // the user; what the module itself fails to import names the user's file, and stays.
    const missing = url.protocol === 'file:' && !existsSync(fileURLToPath(url))
    const why = missing ? 'no such file' : (error as Error).message
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `startServer: cannot load actions from ${url.href}: ${why}`,
      { cause: error },
    )
  }
  const actions = new Map<string, Action>()
  for (const [name, value] of Object.entries(module))
    if (typeof value === 'function' && name !== 'default') actions.set(name, value as Action)
  if (actions.size === 0)
    throw invalidArgument(`startServer: ${url.href} exports no functions to use as actions`)
  return actions
}

export interface ActionOutcome {
  changes: WireChange[]
  patched: Map<string, unknown>
  result: unknown
}

// Runs one action on a draft of the store; nothing is applied here (the caller commits).
export function runAction(actions: Actions, store: StoreView, name: unknown, args: unknown): ActionOutcome {
  if (typeof name !== 'string' || !Array.isArray(args))
    throw new ZStateError(ErrorCode.PROTOCOL, 'run takes [action, args]')
  const action = actions.get(name)
  if (action === undefined) throw invalidArgument(`run: no server action named ${JSON.stringify(name)}`)
  const recorder = new DraftRecorder(store, '')
  let result: unknown
  try {
    result = action(recorder.root, ...args.map((arg) => adoptDecoded(arg)))
  } catch (error) {
    recorder.close()
    throw remote(error)
  }
  if (
    result instanceof Promise ||
    (typeof result === 'object' &&
      result !== null &&
      typeof (result as { then?: unknown }).then === 'function')
  ) {
    recorder.close()
    void Promise.resolve(result).catch(() => {})
    throw invalidArgument(
      `run: action ${name} returned a promise; actions must be synchronous (a long action stalls the server)`,
    )
  }
  let stored: unknown
  try {
    // Before finish(): the result may hold drafts, readable only until then.
    stored = result === undefined ? null : toStoredValue(result)
  } catch (error) {
    recorder.close()
    throw error
  }
  const changes = recorder.finish()
  const patched = new Map<string, unknown>()
  for (const change of changes)
    if (change[1] === ChangeKind.PATCH) patched.set(change[0], store.patched(change[0], change[2]))
  return { changes, patched, result: stored }
}

function remote(error: unknown): RemoteError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const cause = (error as { cause?: unknown }).cause
    return new RemoteError(
      error.message,
      {
        remoteName: error.name,
        stack: error.stack ?? '',
        pid: process.pid,
        ...(typeof code === 'string' ? { remoteCode: code } : {}),
      },
      // Its cause travels with it (remoteWire), as a child's does.
      cause === undefined ? undefined : { cause },
    )
  }
  return new RemoteError(String(error), { remoteName: 'NonError', pid: process.pid, value: error })
}
