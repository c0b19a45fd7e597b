// The State: a Map-like view of the shared store. Reads come from the local replica; writes go to
// the server and resolve once their commit is visible here (read-your-writes).
import { inspect, type InspectOptionsStylized } from 'node:util'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { inspectAs } from '../inspect.ts'
import { readCommitPage, readPosition } from '../link/replies.ts'
import { Op } from '../protocol/ops.ts'
import { decoded } from '../protocol/undecoded.ts'
import {
  checkStorable,
  deepEqual,
  describe,
  isInt64,
  isPlainObject,
  LONE_SURROGATE,
  scopedKey,
  shown,
} from '../protocol/values.ts'
import type { Listener } from './observers.ts'
import type { Change } from './replica.ts'
import type { Coverage } from './coverage.ts'
import type { Synchronizer } from './sync.ts'
import { waitFor, waiterName, type WhenOptions } from './waiters.ts'
import { watch, type WatchOptions } from './watch.ts'
import {
  readCompareAndSetReply,
  readDeleteReply,
  readIncrementReply,
  readRevision,
  readRunReply,
  readSetReply,
} from './replies.ts'
import { atomic, type AtomicOptions, type TransactionHost } from './transaction.ts'
import type { SetOptions, WriteOptions } from './state-types.ts'
import type { ReplyReader } from '../link/channel.ts'
import { MAX_TTL_MS, isTtl } from '../protocol/leases.ts'
import { rejecting } from '../rejecting.ts'
import { bounded, checkWaitOptions, type Refusal, type WaitOptions } from '../wait.ts'

// What a State needs from its client.
export interface StateHost extends TransactionHost {
  // Why the server the client tries to rejoin refuses it: a request's timeout names it.
  readonly refusal: Refusal
}

export class StateView {
  readonly #host: StateHost
  readonly #sync: Synchronizer
  readonly #data: Map<string, unknown>
  readonly #prefix: string
  // Only a partial replica refuses reads; a full one skips the check (get is the hottest path).
  readonly #coverage: Coverage | undefined

  constructor(host: StateHost, prefix: string) {
    this.#host = host
    this.#sync = host.sync
    this.#data = host.sync.replica.data
    this.#prefix = prefix
    this.#coverage = host.sync.coverage.partial ? host.sync.coverage : undefined
  }

  #key(key: unknown): string {
    return scopedKey(this.#prefix, key)
  }

  // Reads: synchronous, from the replica.
  get(key: string): unknown {
    const k = this.#key(key)
    return decoded(this.#data.get(this.#coverage === undefined ? k : this.#coverage.key(k, 'get')))
  }
  has(key: string): boolean {
    const k = this.#key(key)
    return this.#data.has(this.#coverage === undefined ? k : this.#coverage.key(k, 'has'))
  }
  get revision(): number {
    return this.#sync.replica.revision
  }
  get size(): number {
    if (this.#prefix === '') return this.#data.size
    let n = 0
    for (const key of this.#data.keys()) if (key.startsWith(this.#prefix)) n++
    return n
  }
  keys(): IterableIterator<string> {
    return this.#prefix === '' ? this.#data.keys() : this.#scoped((key) => key.slice(this.#prefix.length))
  }
  values(): IterableIterator<unknown> {
    return this.#scoped((_, held) => decoded(held))
  }
  entries(): IterableIterator<[string, unknown]> {
    return this.#scoped((key, held) => [key.slice(this.#prefix.length), decoded(held)])
  }
  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.entries()
  }

  *#scoped<T>(pick: (fullKey: string, held: unknown) => T): Generator<T, undefined, undefined> {
    for (const [key, held] of this.#data) if (key.startsWith(this.#prefix)) yield pick(key, held)
    return undefined
  }

  // A read-only object of the scope at this revision, O(1) to create (lib/client/snapshot-view.ts).
  snapshot(): Readonly<Record<string, unknown>> {
    return this.#sync.replica.snapshot(this.#prefix)
  }

  scope(prefix: string): StateView {
    if (typeof prefix !== 'string')
      throw invalidArgument(`scope: prefix must be a string, got ${describe(prefix)}`)
    // Every key under it would hold the lone surrogate too: no key can.
    if (!prefix.isWellFormed()) throw invalidArgument(`scope: prefix must not hold ${LONE_SURROGATE}`)
    return new StateView(this.#host, this.#sync.coverage.prefix(this.#prefix + prefix, 'scope'))
  }

  async sync(options?: WaitOptions): Promise<number> {
    checkWaitOptions(options, 'sync')
    return bounded(this.#caughtUp(), options, 'sync()', undefined, this.#host.refusal)
  }

  async #caughtUp(): Promise<number> {
    const { epoch, revision } = readPosition(await this.#host.request(Op.SYNC, []), 'sync reply')
    this.#sync.known(epoch, revision)
    await this.#sync.reach(revision)
    return revision
  }

  // Writes: each is one revision; the promise resolves when this replica shows it. The single-key
  // writes are not async functions: the channel's promise, with the reply read in place, is all a
  // write in flight keeps alive (lib/link/channel.ts).
  set(key: string, value: unknown, options?: SetOptions): Promise<number> {
    const given = arguments.length
    return rejecting(() => {
      noMore(given, 3, 'set(key, value, options)')
      const args = [this.#key(key), checkStorable(value)]
      if (options === undefined) return this.#host.writes.request(Op.SET, args, readSetReply)
      args.push(...leaseArgs(options, 'set'))
      return this.#write(options, 'set()', Op.SET, args, readSetReply)
    })
  }

  delete(key: string, options?: WriteOptions): Promise<boolean> {
    const given = arguments.length
    return rejecting(() => {
      noMore(given, 2, 'delete(key, options)')
      checkWaitOptions(options, 'delete')
      const args = [this.#key(key)]
      return this.#write(options, 'delete()', Op.DELETE, args, readDeleteReply)
    })
  }

  // A write whose wait its options bound; nothing is sent when its signal is aborted already.
  #write<T = unknown[]>(
    options: WriteOptions | undefined,
    what: string,
    op: Op,
    args: readonly unknown[],
    read?: ReplyReader<T>,
  ): Promise<T> {
    options?.signal?.throwIfAborted()
    return bounded(this.#host.writes.request(op, args, read), options, what, undefined, this.#host.refusal)
  }

  async update(values: Record<string, unknown>, options?: WriteOptions): Promise<number> {
    noMore(arguments.length, 2, 'update(values, options)', 'ttl and ephemeral are options of set()')
    checkWaitOptions(options, 'update')
    if (typeof values !== 'object' || values === null || !isPlainObject(values)) {
      throw invalidArgument(`update: values must be a plain object, got ${describe(values)}`)
    }
    // Its symbol keys would not be written: refused, as a value with one is.
    if (
      Object.getOwnPropertySymbols(values).some((key) =>
        Object.prototype.propertyIsEnumerable.call(values, key),
      )
    )
      throw invalidArgument('update: values must have string keys only, got a symbol key')
    const pairs = Object.keys(values).map((key) => [this.#key(key), checkStorable(values[key])])
    if (pairs.length === 0) return this.revision
    return readRevision(await this.#write(options, 'update()', Op.UPDATE, [pairs]), 'update')
  }

  async clear(options?: WriteOptions): Promise<number> {
    // clear('jobs/') would clear everything: a scope clears the keys under a prefix.
    if (typeof options === 'string' || arguments.length > 1)
      throw invalidArgument(
        'clear(options) takes no prefix: to clear the keys under a prefix, use state.scope(prefix).clear()',
      )
    checkWaitOptions(options, 'clear')
    return readRevision(await this.#write(options, 'clear()', Op.CLEAR, [this.#prefix]), 'clear')
  }

  increment(key: string, by: number | bigint = 1, options?: WriteOptions): Promise<number | bigint> {
    const given = arguments.length
    return rejecting(() => {
      noMore(given, 3, 'increment(key, by, options)')
      checkWaitOptions(options, 'increment')
      const k = this.#key(key)
      if (typeof by !== 'bigint' && (typeof by !== 'number' || !Number.isFinite(by))) {
        throw invalidArgument(`increment: by must be a finite number or a bigint, got ${describe(by)}`)
      }
      if (typeof by === 'bigint' && !isInt64(by))
        throw new ZStateError(ErrorCode.UNENCODABLE, `increment: by ${by} is outside int64`)
      return this.#write(options, 'increment()', Op.INCREMENT, [k, by], readIncrementReply)
    })
  }

  compareAndSet(key: string, expected: unknown, next: unknown, options?: SetOptions): Promise<boolean> {
    const given = arguments.length
    return rejecting(() => {
      noMore(given, 4, 'compareAndSet(key, expected, next, options)')
      const k = this.#key(key)
      const absent = expected === undefined
      const stored = checkStorable(next)
      const args = [k, absent, absent ? null : checkStorable(expected), stored]
      if (options !== undefined) args.push(...leaseArgs(options, 'compareAndSet'))
      return this.#write(options, 'compareAndSet()', Op.CAS, args, readCompareAndSetReply)
    })
  }

  // Transactions.
  atomic<R>(fn: (draft: never) => R | Promise<R>, options?: AtomicOptions): Promise<R> {
    const given = arguments.length
    return rejecting(() => {
      noMore(given, 2, 'atomic(fn, options)')
      return atomic(this.#host, this.#prefix, fn, options)
    })
  }

  run(action: string, ...args: unknown[]): Promise<unknown> {
    return rejecting(() => {
      if (typeof action !== 'string' || action === '')
        throw invalidArgument('run: action must be a non-empty string')
      return this.#host.writes.request(Op.RUN, [action, args.map(checkStorable)], readRunReply)
    })
  }

  // Watching. The when family returns waitFor's own promise (no async wrapper, which would settle
  // it two microtasks later): a waiter met by a revision settles before this client's own calls
  // committed at that revision, as their continuations run in that order. waitFor and #whenValue
  // turn what they refuse into rejections themselves.
  when(
    keyOrPredicate: string | ((view: never) => boolean),
    predicateOrOptions?: unknown,
    maybeOptions?: WhenOptions,
  ): Promise<unknown> {
    if (typeof keyOrPredicate === 'function') {
      const predicate = keyOrPredicate as (view: ReadonlyState) => boolean
      const view = this.#readonly()
      return waitFor(
        this.#sync,
        { prefix: this.#prefix },
        () => (holds(predicate(view), 'when(predicate)') ? { value: this.snapshot() } : undefined),
        predicateOrOptions as WhenOptions | undefined,
        'when(predicate)',
        true,
      )
    }
    if (typeof predicateOrOptions !== 'function')
      return Promise.reject(invalidArgument('when: give (key, predicate) or (predicate)'))
    return this.#whenValue(
      keyOrPredicate,
      predicateOrOptions as (value: unknown) => boolean,
      maybeOptions,
      'when',
    )
  }

  #whenValue<T>(
    key: string,
    test: (value: unknown) => boolean,
    options: WhenOptions | undefined,
    what: string,
    result?: () => T,
  ): Promise<unknown> {
    return rejecting(() => {
      const k = this.#sync.coverage.key(this.#key(key), what)
      const check = (): { value: unknown } | undefined => {
        const value = decoded(this.#data.get(k))
        return holds(test(value), what) ? { value: result === undefined ? value : result() } : undefined
      }
      return waitFor(this.#sync, { keys: [k] }, check, options, waiterName(what, key), true)
    })
  }

  whenChange(keys: string | string[], options?: WhenOptions): Promise<Change> {
    return rejecting(() => {
      const list = (Array.isArray(keys) ? keys : [keys]).map((key) =>
        this.#sync.coverage.key(this.#key(key), 'whenChange'),
      )
      if (list.length === 0) throw invalidArgument('whenChange: give at least one key')
      const strip = this.#prefix.length
      const check = (change: Change | undefined): { value: Change } | undefined =>
        change === undefined
          ? undefined
          : { value: strip === 0 ? change : { ...change, key: change.key.slice(strip) } }
      return waitFor(this.#sync, { keys: list }, check, options, waiterName('whenChange', keys), false)
    })
  }

  whenEqual(key: string, expected: unknown, options?: WhenOptions): Promise<unknown> {
    return rejecting(() => {
      comparable(expected)
      return this.#whenValue(key, (value) => deepEqual(value, expected), options, 'whenEqual')
    })
  }
  whenNotEqual(key: string, expected: unknown, options?: WhenOptions): Promise<unknown> {
    return rejecting(() => {
      comparable(expected)
      return this.#whenValue(key, (value) => !deepEqual(value, expected), options, 'whenNotEqual')
    })
  }
  whenTruthy(key: string, options?: WhenOptions): Promise<unknown> {
    return this.#whenValue(key, Boolean, options, 'whenTruthy')
  }
  whenFalsy(key: string, options?: WhenOptions): Promise<unknown> {
    return this.#whenValue(key, (value) => !value, options, 'whenFalsy')
  }
  whenAvailable(key: string, options?: WhenOptions): Promise<unknown> {
    return this.#whenValue(key, (value) => value !== undefined, options, 'whenAvailable')
  }
  whenDeleted(key: string, options?: WhenOptions): Promise<void> {
    const deleted = (value: unknown): boolean => value === undefined
    return this.#whenValue(key, deleted, options, 'whenDeleted', () => undefined) as Promise<void>
  }

  watch(options: WatchOptions = {}): AsyncIterableIterator<Change> {
    return watch(this.#sync, this.#prefix, options, async (from, to) => {
      const reply = await this.#host.request(Op.HISTORY, [from, to])
      return readCommitPage(reply, 'history page').commits
    })
  }

  subscribe(listener: Listener): () => void {
    if (typeof listener !== 'function') throw invalidArgument('subscribe: listener must be a function')
    if (this.#prefix === '') return this.#sync.observers.listen(listener)
    const strip = this.#prefix.length
    return this.#sync.observers.listen((event) => {
      const changes = event.changes
        .filter((c) => c.key.startsWith(this.#prefix))
        .map((c) => ({ ...c, key: c.key.slice(strip) }))
      if (changes.length > 0 || event.reset) listener({ ...event, changes })
    })
  }

  [inspect.custom](depth: number, options: InspectOptionsStylized, show: typeof inspect): string {
    const fields = { revision: this.revision, size: this.size, scope: this.#prefix }
    return inspectAs('State', fields, depth, options, show)
  }

  // The accessor a whole-state predicate gets: reads only, valid during the call.
  #readonly(): ReadonlyState {
    const size = (): number => this.size
    const revision = (): number => this.revision
    const view: ReadonlyState = {
      get: (key) => this.get(key),
      has: (key) => this.has(key),
      keys: () => this.keys(),
      values: () => this.values(),
      entries: () => this.entries(),
      get size() {
        return size()
      },
      get revision() {
        return revision()
      },
    }
    return Object.setPrototypeOf(view, MAP_LIKE_ONLY) as ReadonlyState
  }
}

// The prototype of a whole-state predicate's view. The view reads like a Map: `view.x` would be
// undefined for ever, and the waiter would never resolve (a ZProc port writes `lambda s: s["x"] == 1`
// so): such a read throws, naming the call to make instead. Only reads the view itself cannot answer
// reach it, so its own methods cost no trap. `then` stays undefined: a view may pass through await.
const MAP_LIKE_ONLY: object = new Proxy(Object.prototype, {
  get(target, p, receiver): unknown {
    if (typeof p !== 'string' || p in target || p === 'then')
      return Reflect.get(target, p, receiver) as unknown
    throw new TypeError(
      `when(predicate): the view is Map-like: read a key with view.get(${JSON.stringify(p)}), not view.${p} or view[${JSON.stringify(p)}]`,
    )
  },
})

export interface ReadonlyState {
  get(key: string): unknown
  has(key: string): boolean
  keys(): IterableIterator<string>
  values(): IterableIterator<unknown>
  entries(): IterableIterator<[string, unknown]>
  readonly size: number
  readonly revision: number
}

const SET_OPTIONS = ['ephemeral', 'ttl', 'timeout', 'signal']

// SET's or CAS's [ephemeral, ttl] from the caller's options (lib/protocol/leases.ts).
function leaseArgs(options: SetOptions, call: 'set' | 'compareAndSet'): [boolean, number] {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument(`${call}: options must be an object, got ${describe(options)}`)
  checkWaitOptions(options, call, SET_OPTIONS)
  const { ephemeral = false, ttl } = options
  if (typeof ephemeral !== 'boolean')
    throw invalidArgument(`${call}: ephemeral must be a boolean, got ${describe(ephemeral)}`)
  if (ttl !== undefined && !isTtl(ttl))
    throw invalidArgument(`${call}: ttl must be an integer from 1 to ${MAX_TTL_MS} ms, got ${shown(ttl)}`)
  return [ephemeral, ttl ?? 0]
}

// A call given more arguments than it takes: refused rather than ignored. Counted from
// arguments.length, as a rest parameter would allocate an array on every write.
function noMore(given: number, takes: number, call: string, hint?: string): void {
  if (given > takes)
    throw invalidArgument(
      `${call} takes no more arguments, got ${given - takes} more${hint === undefined ? '' : `: ${hint}`}`,
    )
}

// An expected value: undefined (absent), or one the store can hold, as compareAndSet takes it; any
// other would never equal a stored value (ERR_UNENCODABLE, as compareAndSet refuses it).
function comparable(expected: unknown): void {
  if (expected !== undefined) checkStorable(expected)
}

// A predicate's answer. An async predicate's is a promise, which is always truthy: refused.
function holds(answer: unknown, what: string): boolean {
  if (typeof answer === 'boolean') return answer
  if (typeof (answer as { then?: unknown } | null)?.then === 'function')
    throw invalidArgument(`${what}: the predicate returned a promise; a predicate must be synchronous`)
  return Boolean(answer)
}
