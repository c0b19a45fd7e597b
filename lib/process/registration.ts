// A context as the server lists it for `zstate top`: opened once, told about every child as it starts
// and ends. A listing only: the server never acts on it (children die with this process through its
// watchdog, watchdog.ts), and the server forgets it when this client's session ends; so after a
// reconnection (a new session) it is opened again, with its live children as they are now.
import { hostId } from '../host.ts'
import { uniqueToken } from '../unique-token.ts'
import { Op } from '../protocol/ops.ts'
import type { ChildStatus } from '../protocol/process-table.ts'
import type { LinkUser } from '../link/connection.ts'
import type { ChildRegistrar } from './attempt.ts'
import { currentThreadId } from './launch.ts'

export interface RequestSink {
  request(op: Op, args: readonly unknown[]): Promise<unknown[]>
}

// Best effort: a server that refuses (an old one, a bound reached) or was replaced just lists less.
const ignore = (): void => {}

export class Registration implements ChildRegistrar, LinkUser {
  readonly id = uniqueToken()
  readonly #client: RequestSink
  readonly #name: string
  #opened: Promise<void> | undefined
  #registered = false
  #closed = false
  // The last CHILD arguments of each live child, by key: what a new session is told.
  readonly #live = new Map<string, unknown[]>()

  constructor(client: RequestSink, name: string) {
    this.#client = client
    this.#name = name
  }

  open(): Promise<void> {
    this.#opened ??= this.#client
      .request(Op.CONTEXT_OPEN, [this.id, this.#name, process.pid, currentThreadId(), hostId()])
      .then(() => void (this.#registered = true), ignore)
    return this.#opened
  }

  child(
    key: string,
    pid: number,
    threadId: number | null,
    name: string,
    status: ChildStatus,
    attempts: number,
    joined: boolean,
  ): void {
    if (this.#closed) return
    // `joined` only when false, which is news: a server before it takes seven arguments.
    const args = [this.id, key, pid, threadId, name, status, attempts, ...(joined ? [] : [false])]
    if (status === 'exited' || status === 'failed') this.#live.delete(key)
    else this.#live.set(key, args)
    void this.open().then(() => this.#send(args))
  }

  // A new session of a context opened before (the first finds it unopened: it opens on first use):
  // it knows nothing of this context. Requests that were waiting for it may reach it first and be
  // refused (no such context); what is sent here is newer than they are.
  attach(): void {
    if (this.#opened === undefined || this.#closed) return
    this.#opened = undefined
    this.#registered = false
    void this.open().then(() => {
      for (const args of this.#live.values()) this.#send(args)
    })
  }

  detach(): void {}

  // A child has exited: the server ends the sessions its client opened with this token. Sent at once,
  // whether or not the context is registered, ahead of the context's own close and BYE.
  gone(childToken: string): void {
    void this.#client.request(Op.CHILD_GONE, [childToken]).then(ignore, ignore)
  }

  #send(args: readonly unknown[]): void {
    void this.#client.request(Op.CHILD, args).then(ignore, ignore)
  }

  // The context ends. Sent at once, ahead of the client's BYE, and never awaited: a lost server cannot
  // hold up a close (and the end of the session forgets the context anyway).
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#registered) void this.#client.request(Op.CONTEXT_CLOSE, [this.id]).then(ignore, ignore)
  }
}
