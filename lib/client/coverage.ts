// What a partial replica holds (connect({ replicate }), docs/state.md "Partial replicas"): reads,
// waiters, watches, scopes and transaction reads of keys outside its prefixes are refused with
// ERR_INVALID_ARGUMENT naming them. Enumerations simply see the keys it holds.
import { invalidArgument } from '../errors.ts'
import type { DraftSource } from '../protocol/draft.ts'
import { ChangeKind, type WireChange } from '../protocol/ops.ts'
import { Prefixes } from '../protocol/prefixes.ts'

// How many prefixes an error message names before it counts the rest.
const NAMED = 8

export class Coverage {
  readonly #prefixes: Prefixes | undefined
  // As the caller gave them, for messages.
  readonly #named: readonly string[]

  // undefined: a full replica, which holds every key.
  constructor(replicate: readonly string[] | undefined) {
    this.#prefixes = replicate === undefined ? undefined : new Prefixes(replicate)
    this.#named = [...new Set(replicate)]
  }

  get partial(): boolean {
    return this.#prefixes !== undefined && !this.#prefixes.all
  }

  // Whether the replica holds `key` (or, for a prefix, every key under it).
  covers(key: string): boolean {
    return this.#prefixes === undefined || this.#prefixes.covers(key)
  }

  // `key` (a full key) to read; refused if the replica does not hold it.
  key(key: string, what: string): string {
    if (!this.covers(key)) throw invalidArgument(`${what}: key ${JSON.stringify(key)} is ${this.#outside()}`)
    return key
  }

  // `prefix` (a full one, a scope's or a watch's) to read under. '' stands for the whole replica,
  // which is what it holds; any other prefix must lie inside one of the replicated ones.
  prefix(prefix: string, what: string): string {
    if (prefix !== '' && !this.covers(prefix))
      throw invalidArgument(`${what}: prefix ${JSON.stringify(prefix)} is ${this.#outside()}`)
    return prefix
  }

  // The changes of a commit that this replica keeps (history is not cut to its prefixes).
  changes(changes: readonly WireChange[]): readonly WireChange[] {
    if (!this.partial) return changes
    return changes.filter((change) => change[1] === ChangeKind.CLEAR || this.covers(change[0]))
  }

  // A transaction's view of the replica that refuses reads of keys it does not hold.
  guard(source: DraftSource): DraftSource {
    if (!this.partial) return source
    return {
      get: (key) => source.get(this.key(key, 'atomic')),
      has: (key) => source.has(this.key(key, 'atomic')),
      keys: () => source.keys(),
      covers: (key) => this.covers(key),
    }
  }

  #outside(): string {
    const list = this.#named
    const named = list.slice(0, NAMED).map((prefix) => JSON.stringify(prefix))
    if (list.length > NAMED) named.push(`… ${list.length - NAMED} more`)
    return `not replicated by this client (connect({ replicate: [${named.join(', ')}] }))`
  }
}
