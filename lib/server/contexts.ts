// The contexts each session has opened and the children they report: a registry for `zstate top`,
// nothing more. It never signals a process: a pid in a request is only a claim (nothing can check
// it over tcp), so it is shown and measured, never acted on. Children die with their owner through
// the owner's own watchdog (lib/process/watchdog.ts). A context belongs to the session that opened
// it: only that session may change or close it, and its contexts go when that session ends.
import { ErrorCode, ZStateError } from '../errors.ts'
import { hostId, processStart } from '../host.ts'
import { Op } from '../protocol/ops.ts'
import { CHILD_STATUSES, type ChildStatus, type ProcessTable } from '../protocol/process-table.ts'
import { arity } from './operations.ts'
import { ProcessListing, type ContextEntry, type ListingHost } from './process-listing.ts'
import type { Session } from './sessions.ts'
import { ownString } from './own-string.ts'

// What one session may register: a process has one context per thread that spawns, so these are
// far beyond any real owner and keep the registry of a flooding client to a few MiB.
export const MAX_SESSION_CONTEXTS = 64
export const MAX_SESSION_CHILDREN = 4_096
// Names are kept to this many characters; child keys may not be longer.
const MAX_NAME = 256
const MAX_KEY = 128

interface Owned {
  readonly contexts: Set<ContextEntry>
  // Live children over all of the session's contexts.
  children: number
}

export class Contexts {
  readonly #contexts = new Map<string, ContextEntry>()
  readonly #owned = new Map<Session, Owned>()
  readonly #listing: ProcessListing

  constructor(host: ListingHost) {
    this.#listing = new ProcessListing(host)
  }

  // CONTEXT_OPEN, CONTEXT_CLOSE, CHILD: the payload; PROCESSES: a promise of it.
  handle(session: Session, op: unknown, args: unknown[]): unknown[] | Promise<unknown[]> {
    switch (op) {
      case Op.CONTEXT_OPEN:
        arity(args, 5, 'context open')
        this.#open(session, args)
        return []
      case Op.CONTEXT_CLOSE: {
        arity(args, 1, 'context close')
        const context = this.#contexts.get(contextId(args[0]))
        if (context !== undefined) this.#delete(session, context)
        return []
      }
      case Op.CHILD:
        arity(args, 7, 'child', 8)
        this.#child(session, args)
        return []
      default:
        arity(args, 0, 'processes')
        return this.table(session).then((table) => [table])
    }
  }

  // The process table, for PROCESSES and the metrics endpoint, as `viewer` sees it (CPU since its
  // own last look).
  table(viewer: object): Promise<ProcessTable> {
    return this.#listing.table(this.#contexts.values(), viewer)
  }

  // The session has ended: so have its contexts.
  dropSession(session: Session): void {
    const owned = this.#owned.get(session)
    if (owned === undefined) return
    for (const context of owned.contexts) this.#contexts.delete(context.id)
    this.#owned.delete(session)
  }

  close(): void {
    this.#listing.close()
  }

  #open(session: Session, args: unknown[]): void {
    const [rawId, name, pid, threadId, host] = args
    const id = contextId(rawId)
    if (typeof name !== 'string' || !isPid(pid) || !isThreadId(threadId) || typeof host !== 'string')
      throw protocol('context open takes [id, name, pid, threadId, hostId]')
    const existing = this.#contexts.get(id)
    if (existing !== undefined) {
      this.#ownedBy(session, existing)
      existing.name = ownString(name.slice(0, MAX_NAME))
      return
    }
    const owned = this.#owned.get(session) ?? { contexts: new Set<ContextEntry>(), children: 0 }
    if (owned.contexts.size >= MAX_SESSION_CONTEXTS)
      throw invalid(`a session may register at most ${MAX_SESSION_CONTEXTS} contexts`)
    // Only measured (never signalled) when the server can see the claimed owner on its own host.
    const local = host === hostId() && processStart(pid) !== undefined
    const context: ContextEntry = {
      id,
      name: ownString(name.slice(0, MAX_NAME)),
      pid,
      threadId,
      local,
      owner: session,
      children: new Map(),
    }
    this.#contexts.set(id, context)
    owned.contexts.add(context)
    this.#owned.set(session, owned)
  }

  #child(session: Session, args: unknown[]): void {
    const [rawId, key, pid, threadId, name, status, attempts, joined = true] = args
    const id = contextId(rawId)
    if (
      typeof key !== 'string' ||
      key.length === 0 ||
      key.length > MAX_KEY ||
      !isPid(pid) ||
      !isThreadId(threadId) ||
      typeof name !== 'string' ||
      !CHILD_STATUSES.includes(status as ChildStatus) ||
      !Number.isSafeInteger(attempts) ||
      (attempts as number) < 0 ||
      typeof joined !== 'boolean'
    )
      throw protocol(
        `child takes [contextId, key (1–${MAX_KEY} characters), pid, threadId, name, status, attempts, joined?]`,
      )
    const context = this.#contexts.get(id)
    if (context === undefined) throw notOwned(id)
    const owned = this.#ownedBy(session, context)
    if (status === 'exited' || status === 'failed') {
      if (context.children.delete(key)) owned.children--
      return
    }
    const entry = context.children.get(key)
    if (entry !== undefined) {
      entry.status = status as ChildStatus
      entry.attempts = attempts as number
      entry.joined = joined
      return
    }
    if (owned.children >= MAX_SESSION_CHILDREN)
      throw invalid(`a session may register at most ${MAX_SESSION_CHILDREN} live children`)
    context.children.set(key, {
      name: ownString(name.slice(0, MAX_NAME)),
      pid,
      threadId,
      status: status as ChildStatus,
      attempts: attempts as number,
      joined,
    })
    owned.children++
  }

  // The requesting session's record, if it owns the context; refused otherwise (ids are not capabilities).
  #ownedBy(session: Session, context: ContextEntry): Owned {
    const owned = this.#owned.get(session)
    if (owned === undefined || !owned.contexts.has(context)) throw notOwned(context.id)
    return owned
  }

  #delete(session: Session, context: ContextEntry): void {
    const owned = this.#ownedBy(session, context)
    this.#contexts.delete(context.id)
    owned.contexts.delete(context)
    owned.children -= context.children.size
    if (owned.contexts.size === 0) this.#owned.delete(session)
  }
}

function protocol(message: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, message)
}

function invalid(message: string): ZStateError {
  return new ZStateError(ErrorCode.INVALID_ARGUMENT, message)
}

// The same answer for a context that does not exist and one another session opened.
function notOwned(id: string): ZStateError {
  return invalid(`context ${id} was not opened by this session`)
}

function contextId(value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{8,64}$/.test(value))
    throw protocol('a context id is 8 to 64 lowercase hex digits')
  return value
}

function isPid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

function isThreadId(value: unknown): value is number | null {
  return value === null || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)
}
