// A context as the server lists it for `zstate top`: opened once, told about every child as it starts
// and ends. A listing only: the server never acts on it (children die with this process through its
// watchdog, watchdog.ts), and the server forgets it when this client's session ends.
import { hostId } from '../host.ts'
import { uniqueToken } from '../unique-token.ts'
import { Op } from '../protocol/ops.ts'
import type { ChildStatus } from '../protocol/process-table.ts'
import type { ChildRegistrar } from './attempt.ts'
import { currentThreadId } from './launch.ts'

export interface RequestSink {
  request(op: Op, args: readonly unknown[]): Promise<unknown[]>
}

// Best effort: a server that refuses (an old one, a bound reached) or was replaced just lists less.
const ignore = (): void => {}

export class Registration implements ChildRegistrar {
  readonly id = uniqueToken()
  readonly #client: RequestSink
  readonly #name: string
  #opened: Promise<void> | undefined
  #registered = false
  #closed = false

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
    void this.open().then(() => this.#client.request(Op.CHILD, args).then(ignore, ignore))
  }

  // A child has exited: the server ends the sessions its client opened with this token. Sent at once,
  // whether or not the context is registered, ahead of the context's own close and BYE.
  gone(childToken: string): void {
    void this.#client.request(Op.CHILD_GONE, [childToken]).then(ignore, ignore)
  }

  // The context ends. Sent at once, ahead of the client's BYE, and never awaited: a lost server cannot
  // hold up a close (and the end of the session forgets the context anyway).
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#registered) void this.#client.request(Op.CONTEXT_CLOSE, [this.id]).then(ignore, ignore)
  }
}
