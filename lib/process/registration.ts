// A context as the server knows it: opened once, told about every child as it starts and ends, so
// the server's reaper can kill them if this context's owner dies (see lib/server/contexts.ts).
import { randomBytes } from 'node:crypto'
import { hostId } from '../host.ts'
import { Op } from '../protocol/ops.ts'
import type { ChildStatus } from '../protocol/process-table.ts'
import type { ChildRegistrar } from './attempt.ts'
import { currentThreadId } from './launch.ts'

export interface RequestSink {
  request(op: Op, args: readonly unknown[]): Promise<unknown[]>
}

// Registration is best effort: an old server, or one that was replaced, just cannot reap.
const ignore = (): void => {}

export class Registration implements ChildRegistrar {
  readonly id = randomBytes(8).toString('hex')
  readonly #client: RequestSink
  readonly #name: string
  #opened: Promise<void> | undefined
  #closed = false

  constructor(client: RequestSink, name: string) {
    this.#client = client
    this.#name = name
  }

  get opened(): boolean {
    return this.#opened !== undefined
  }

  open(): Promise<void> {
    this.#opened ??= this.#client
      .request(Op.CONTEXT_OPEN, [this.id, this.#name, process.pid, currentThreadId(), hostId()])
      .then(ignore, ignore)
    return this.#opened
  }

  child(
    key: string,
    pid: number,
    threadId: number | null,
    name: string,
    status: ChildStatus,
    attempts: number,
  ): void {
    if (this.#closed) return
    const args = [this.id, key, pid, threadId, name, status, attempts]
    void this.open().then(() => this.#client.request(Op.CHILD, args).then(ignore, ignore))
  }

  reap(contextId: string): void {
    void this.#client.request(Op.CONTEXT_CLOSE, [contextId, true]).then(ignore, ignore)
  }

  // The context ends: forget it (its children are stopped by then unless `reap` asks the server to).
  async close(reap: boolean): Promise<void> {
    if (this.#closed || this.#opened === undefined) return
    this.#closed = true
    await this.#opened
    await this.#client.request(Op.CONTEXT_CLOSE, [this.id, reap]).then(ignore, ignore)
  }
}
