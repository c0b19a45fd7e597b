// Which processes every context has spawned, and the reaper: when a context's owner process is gone
// (however it died), the server kills the children it registered, even ones whose event loop is
// too busy to notice their parent's death. Only processes that provably are those children are
// touched: same host and pid namespace, same start time, forked by the owner.
import { ErrorCode, ZStateError } from '../errors.ts'
import { hostId, isSameProcess, parentPid, processStart } from '../host.ts'
import { Op } from '../protocol/ops.ts'
import { CHILD_STATUSES, type ChildStatus, type ProcessTable } from '../protocol/process-table.ts'
import { arity } from './operations.ts'
import { UsageSampler } from './usage.ts'

interface ChildEntry {
  name: string
  pid: number
  threadId: number | null
  status: ChildStatus
  attempts: number
  // Start time when registered; undefined: never killed (a thread, or not ours to kill).
  start: number | undefined
}

interface ContextEntry {
  readonly id: string
  name: string
  readonly pid: number
  readonly threadId: number | null
  // The owner's start time, when it runs where this server can see it; undefined otherwise.
  readonly start: number | undefined
  readonly children: Map<string, ChildEntry>
}

export interface ContextsHost {
  clients(): Iterable<{ readonly name: string; readonly pid: number }>
  revision(): number
}

// How often owners are checked: a busy child of a SIGKILLed parent dies within about this long.
const POLL_MS = 200
const MAX_CONTEXTS = 10_000
const MAX_CHILDREN = 100_000
const RATE_SAMPLES = 6

// Every registry in this process, so a server process that loses its own owner can reap them all.
const registries = new Set<Contexts>()

// Kills every child registered with any server in this process; returns how many were killed.
export function reapAllContexts(): number {
  let killed = 0
  for (const registry of registries) killed += registry.reapAll()
  return killed
}

export class Contexts {
  readonly #host: ContextsHost
  readonly #contexts = new Map<string, ContextEntry>()
  readonly #started = Date.now()
  readonly #samples: [time: number, revision: number][] = []
  readonly #usage = new UsageSampler()
  #poll: NodeJS.Timeout | undefined
  readonly #sampler: NodeJS.Timeout

  constructor(host: ContextsHost) {
    this.#host = host
    this.#samples.push([Date.now(), host.revision()])
    this.#sampler = setInterval(() => this.#sample(), 1000)
    this.#sampler.unref()
    registries.add(this)
  }

  // CONTEXT_OPEN, CONTEXT_CLOSE, CHILD: the payload; PROCESSES: a promise of it.
  handle(op: unknown, args: unknown[]): unknown[] | Promise<unknown[]> {
    switch (op) {
      case Op.CONTEXT_OPEN:
        arity(args, 5, 'context open')
        this.#open(args)
        return []
      case Op.CONTEXT_CLOSE: {
        arity(args, 2, 'context close')
        const [id, reap] = args
        const context = this.#contexts.get(contextId(id))
        if (context === undefined) return [0]
        this.#contexts.delete(context.id)
        return [reap === true ? this.#reap(context) : 0]
      }
      case Op.CHILD:
        arity(args, 7, 'child')
        this.#child(args)
        return []
      default:
        arity(args, 0, 'processes')
        return this.#table().then((table) => [table])
    }
  }

  // Kills every registered child of every context (this server's owner is gone).
  reapAll(): number {
    let killed = 0
    for (const context of [...this.#contexts.values()]) {
      this.#contexts.delete(context.id)
      killed += this.#reap(context)
    }
    return killed
  }

  close(): void {
    clearInterval(this.#poll)
    clearInterval(this.#sampler)
    this.#poll = undefined
    registries.delete(this)
  }

  #open(args: unknown[]): void {
    const [rawId, name, pid, threadId, host] = args
    const id = contextId(rawId)
    if (typeof name !== 'string' || !isPid(pid) || !isThreadId(threadId) || typeof host !== 'string')
      throw protocol('context open takes [id, name, pid, threadId, hostId]')
    const existing = this.#contexts.get(id)
    if (existing !== undefined) {
      existing.name = name.slice(0, 256)
      return
    }
    if (this.#contexts.size >= MAX_CONTEXTS)
      throw new ZStateError(ErrorCode.INVALID_ARGUMENT, `too many contexts (${MAX_CONTEXTS})`)
    const start = host === hostId() ? processStart(pid) : undefined
    this.#contexts.set(id, { id, name: name.slice(0, 256), pid, threadId, start, children: new Map() })
    if (start !== undefined) this.#armPoll()
  }

  #child(args: unknown[]): void {
    const [rawId, key, pid, threadId, name, status, attempts] = args
    const context = this.#contexts.get(contextId(rawId))
    if (
      typeof key !== 'string' ||
      !isPid(pid) ||
      !isThreadId(threadId) ||
      typeof name !== 'string' ||
      !CHILD_STATUSES.includes(status as ChildStatus) ||
      typeof attempts !== 'number'
    )
      throw protocol('child takes [contextId, key, pid, threadId, name, status, attempts]')
    if (context === undefined)
      throw new ZStateError(ErrorCode.INVALID_ARGUMENT, `unknown context ${String(rawId)}`)
    if (status === 'exited' || status === 'failed') {
      context.children.delete(key)
      return
    }
    const entry = context.children.get(key)
    if (entry !== undefined) {
      entry.status = status as ChildStatus
      entry.attempts = attempts
      return
    }
    if (context.children.size >= MAX_CHILDREN)
      throw new ZStateError(ErrorCode.INVALID_ARGUMENT, `too many children in context ${context.id}`)
    context.children.set(key, {
      name: name.slice(0, 256),
      pid,
      threadId,
      status: status as ChildStatus,
      attempts,
      start: threadId === null ? this.#killableStart(context, pid) : undefined,
    })
  }

  // A child may be killed later only if it runs here and its parent is the context's owner.
  #killableStart(context: ContextEntry, pid: number): number | undefined {
    if (context.start === undefined) return undefined
    const parent = parentPid(pid)
    if (parent !== undefined && parent !== context.pid) return undefined
    return processStart(pid)
  }

  #armPoll(): void {
    if (this.#poll !== undefined) return
    this.#poll = setInterval(() => this.#check(), POLL_MS)
    this.#poll.unref()
  }

  // Reaps the contexts whose owner has died.
  #check(): void {
    let local = 0
    for (const context of [...this.#contexts.values()]) {
      if (context.start === undefined) continue
      local++
      if (!this.#contexts.has(context.id) || isSameProcess(context.pid, context.start)) continue
      this.#contexts.delete(context.id)
      this.#reap(context)
    }
    if (local === 0) {
      clearInterval(this.#poll)
      this.#poll = undefined
    }
  }

  // Kills a lost context's children, then reaps the contexts those children owned.
  #reap(context: ContextEntry): number {
    const killed: number[] = []
    for (const child of context.children.values()) {
      if (child.start === undefined || !isSameProcess(child.pid, child.start)) continue
      try {
        process.kill(child.pid, 'SIGKILL')
        killed.push(child.pid)
      } catch {
        // already gone
      }
    }
    context.children.clear()
    let count = killed.length
    if (killed.length === 0) return count
    for (const owned of [...this.#contexts.values()]) {
      if (owned.start === undefined || !killed.includes(owned.pid)) continue
      this.#contexts.delete(owned.id)
      count += this.#reap(owned)
    }
    return count
  }

  #sample(): void {
    this.#samples.push([Date.now(), this.#host.revision()])
    if (this.#samples.length > RATE_SAMPLES) this.#samples.shift()
  }

  async #table(): Promise<ProcessTable> {
    const contexts = [...this.#contexts.values()]
    const pids = new Set<number>([process.pid])
    for (const context of contexts) {
      if (context.start !== undefined) pids.add(context.pid)
      for (const child of context.children.values()) if (context.start !== undefined) pids.add(child.pid)
    }
    const usage = await this.#usage.sample([...pids])
    const none = { cpu: null, memory: null, elapsed: null }
    const [since, from] = this.#samples[0]!
    const now = Date.now()
    const revision = this.#host.revision()
    return {
      server: { pid: process.pid, ...(usage.get(process.pid) ?? none) },
      revision,
      commitsPerSecond: now > since ? Math.max(0, ((revision - from) * 1000) / (now - since)) : 0,
      uptime: now - this.#started,
      clients: [...this.#host.clients()].map(({ name, pid }) => ({ name, pid })),
      contexts: contexts.map((context) => {
        const local = context.start !== undefined
        return {
          id: context.id,
          name: context.name,
          pid: context.pid,
          threadId: context.threadId,
          local,
          ...((local ? usage.get(context.pid) : undefined) ?? none),
          children: [...context.children.values()].map((child) => ({
            name: child.name,
            pid: child.pid,
            threadId: child.threadId,
            status: child.status,
            attempts: child.attempts,
            ...((local ? usage.get(child.pid) : undefined) ?? none),
          })),
        }
      }),
    }
  }
}

function protocol(message: string): ZStateError {
  return new ZStateError(ErrorCode.PROTOCOL, message)
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
