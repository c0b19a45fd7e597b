// The key/value store and its revision counter: the only writer of state.
import { randomBytes } from 'node:crypto'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'

export class Store {
  readonly epoch: string = randomBytes(8).toString('hex')
  #revision = 0
  readonly #data = new Map<string, unknown>()

  get revision(): number {
    return this.#revision
  }
  get size(): number {
    return this.#data.size
  }
  get(key: string): unknown {
    return this.#data.get(key)
  }
  has(key: string): boolean {
    return this.#data.has(key)
  }
  entries(): IterableIterator<[string, unknown]> {
    return this.#data.entries()
  }
  keys(): IterableIterator<string> {
    return this.#data.keys()
  }

  // Applies one commit's changes and gives it the next revision.
  commit(changes: readonly WireChange[]): number {
    for (const change of changes) {
      switch (change[1]) {
        case ChangeKind.SET:
          this.#data.set(change[0], change[2])
          break
        case ChangeKind.DELETE:
          this.#data.delete(change[0])
          break
        case ChangeKind.CLEAR:
          this.#data.clear()
          break
        case ChangeKind.PATCH:
          throw new Error('patch changes are applied by the transaction module')
      }
    }
    return ++this.#revision
  }
}
