// The request handlers for state operations: argument checks, then one commit (or none).
import { ConflictError, ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { MAX_TTL_MS, isTtl, leaseFor } from '../protocol/leases.ts'
import { ChangeKind, Op, type WireChange, type WireLease } from '../protocol/ops.ts'
import { readWirePatches } from '../protocol/patches.ts'
import type { Shape } from '../protocol/codec.ts'
import { adoptDecoded, checkKey, deepEqual, describe, isInt64, shown } from '../protocol/values.ts'
import { isRequestId, isRevision } from '../protocol/frames.ts'
import { EncodedValue } from './set-frame.ts'
import type { StoreView } from './store.ts'

// The server side of one operation: returns the reply payload; `commit` gives the next revision.
// `result`: what the writer gets back besides the revision; its commit carries it.
export type Commit = (
  changes: WireChange[],
  patched?: ReadonlyMap<string, unknown>,
  result?: unknown,
) => number
export type Operation = (args: unknown[], store: StoreView, commit: Commit) => unknown[]

// `n` arguments, or from `n` to `max` where the last ones may be left out.
export function arity(args: unknown[], n: number, op: string, max = n): void {
  if (args.length < n || args.length > max) {
    const count = max === n ? `${n} argument${n === 1 ? '' : 's'}` : `${n} to ${max} arguments`
    throw new ZStateError(ErrorCode.PROTOCOL, `${op} takes ${count}, got ${args.length}`)
  }
}

function key(value: unknown): string {
  checkKey(value)
  return value
}

function value(raw: unknown): unknown {
  return adoptDecoded(raw)
}

// A set's value: as decoded, or still the bytes a client sent, checked by lib/server/set-frame.ts.
function setValue(raw: unknown): unknown {
  return raw instanceof EncodedValue ? raw : value(raw)
}

function sum(current: unknown, by: number | bigint, name: string): number | bigint {
  if (typeof by === 'bigint') {
    const base = current === undefined ? 0n : current
    if (typeof base !== 'bigint')
      throw invalidArgument(`increment: ${name} holds ${describe(base)}, not a bigint`)
    const result = base + by
    if (!isInt64(result)) throw invalidArgument(`increment: ${name} would leave int64`)
    return result
  }
  const base = current === undefined ? 0 : current
  if (typeof base !== 'number')
    throw invalidArgument(`increment: ${name} holds ${describe(base)}, not a number`)
  const result = base + by
  // A counter of whole numbers that leaves the safe integers would be rounded without a word.
  if (Number.isSafeInteger(base) && Number.isSafeInteger(by) && !Number.isSafeInteger(result))
    throw invalidArgument(
      `increment: ${name} would leave the safe integers (±${Number.MAX_SAFE_INTEGER}): count with a bigint`,
    )
  return result
}

// What describe() says of a value of each shape.
const SHAPE_SHOWN: Record<Shape['kind'], string> = {
  map: 'an instance of Object',
  array: 'an array',
  string: 'string',
  binary: 'an instance of Uint8Array',
}

// False when a stored value of `shape` cannot equal `expected`: so a compareAndSet decodes a large
// value only to compare it with one as large, which its own request had to carry.
function mayEqual(shape: Shape | undefined, expected: unknown): boolean {
  if (shape === undefined) return true
  switch (shape.kind) {
    case 'map':
      return (
        typeof expected === 'object' &&
        expected !== null &&
        !Array.isArray(expected) &&
        !(expected instanceof Uint8Array) &&
        !(expected instanceof Date) &&
        Object.keys(expected).length === shape.size
      )
    case 'array':
      return Array.isArray(expected) && expected.length === shape.size
    case 'string':
      return typeof expected === 'string' && Buffer.byteLength(expected) === shape.size
    case 'binary':
      return expected instanceof Uint8Array && expected.byteLength === shape.size
  }
}

export const operations: Partial<Record<number, Operation>> = {
  [Op.SET](args, _store, commit) {
    if (args.length !== 2 && args.length !== 4)
      throw new ZStateError(
        ErrorCode.PROTOCOL,
        `set takes [key, value] or [key, value, ephemeral, ttl], got ${args.length} arguments`,
      )
    const k = key(args[0])
    const v = setValue(args[1])
    const lease = args.length === 4 ? readLease('set', args[2], args[3]) : undefined
    return [commit([setChange(k, v, lease)])]
  },
  [Op.DELETE](args, store, commit) {
    arity(args, 1, 'delete')
    const k = key(args[0])
    return [store.has(k) ? commit([[k, ChangeKind.DELETE]]) : 0]
  },
  [Op.UPDATE](args, _store, commit) {
    arity(args, 1, 'update')
    const pairs = args[0]
    if (!Array.isArray(pairs) || pairs.length === 0)
      throw new ZStateError(ErrorCode.PROTOCOL, 'update takes a non-empty list of [key, value]')
    const changes: WireChange[] = pairs.map((pair: unknown) => {
      if (!Array.isArray(pair) || pair.length !== 2)
        throw new ZStateError(ErrorCode.PROTOCOL, 'update entries are [key, value]')
      return [key(pair[0]), ChangeKind.SET, value(pair[1])]
    })
    return [commit(changes)]
  },
  [Op.CLEAR](args, store, commit) {
    const prefix = clearPrefix(args)
    if (prefix === '') return [store.size === 0 ? 0 : commit([[null, ChangeKind.CLEAR]])]
    const changes: WireChange[] = []
    for (const k of store.keys()) if (k.startsWith(prefix)) changes.push([k, ChangeKind.DELETE])
    return [changes.length === 0 ? 0 : commit(changes)]
  },
  [Op.INCREMENT](args, store, commit) {
    arity(args, 2, 'increment')
    const k = key(args[0])
    const by = args[1]
    if (typeof by !== 'bigint' && (typeof by !== 'number' || !Number.isFinite(by))) {
      throw invalidArgument(`increment: by must be a finite number or a bigint, got ${describe(by)}`)
    }
    // A container, a string or binary is no counter: told from its header, not decoded (a tiny
    // request must not cost the decoding of a large value).
    const shape = store.shape(k)
    if (shape !== undefined)
      throw invalidArgument(
        `increment: ${JSON.stringify(k)} holds ${SHAPE_SHOWN[shape.kind]}, not a ${typeof by === 'bigint' ? 'bigint' : 'number'}`,
      )
    const next = sum(store.get(k), by, JSON.stringify(k))
    return [commit([[k, ChangeKind.SET, next]], undefined, next), next]
  },
  [Op.CAS](args, store, commit) {
    if (args.length !== 4 && args.length !== 6)
      throw new ZStateError(
        ErrorCode.PROTOCOL,
        `compareAndSet takes [key, expectAbsent, expected, next] or [key, expectAbsent, expected, next, ephemeral, ttl], got ${args.length} arguments`,
      )
    const k = key(args[0])
    if (typeof args[1] !== 'boolean')
      throw new ZStateError(ErrorCode.PROTOCOL, 'compareAndSet: expectAbsent must be a boolean')
    const expected = args[1] ? undefined : value(args[2])
    const next = value(args[3])
    const lease = args.length === 6 ? readLease('compareAndSet', args[4], args[5]) : undefined
    const matches = args[1]
      ? !store.has(k)
      : store.has(k) && mayEqual(store.shape(k), expected) && deepEqual(store.get(k), expected)
    return [matches ? commit([setChange(k, next, lease)]) : 0]
  },
  [Op.TXN](args, store, commit) {
    return runTransaction(readTransaction(args, store), store, commit)
  },
}

// A CLEAR's prefix: '' for every key.
export function clearPrefix(args: unknown[]): string {
  arity(args, 1, 'clear')
  const prefix = args[0]
  if (typeof prefix !== 'string') throw new ZStateError(ErrorCode.PROTOCOL, 'clear takes a key prefix')
  return prefix
}

// A TXN request, checked: [epoch, base, readKeys, keySpaceRead, writes], and from a client that may
// wait its turn on contended keys (lib/server/claims.ts), [..., queue, held].
export interface Transaction {
  readonly base: number
  readonly changes: WireChange[]
  // Every key it read or writes.
  readonly touched: ReadonlySet<string>
  readonly keySpace: boolean
  // Whether it waits its turn, rather than conflicting, while its keys are claimed or changed.
  readonly queue: boolean
  // The claim it runs under (the request id that queued it), or 0.
  readonly held: number
}

export function readTransaction(args: unknown[], store: StoreView): Transaction {
  if (args.length !== 5 && args.length !== 7) {
    throw new ZStateError(ErrorCode.PROTOCOL, `transaction takes 5 or 7 arguments, got ${args.length}`)
  }
  const [epoch, base, reads, keySpace, writes, queue = false, held = 0] = args
  if (
    !Array.isArray(reads) ||
    typeof keySpace !== 'boolean' ||
    !Array.isArray(writes) ||
    typeof queue !== 'boolean' ||
    !isRequestId(held)
  ) {
    throw new ZStateError(
      ErrorCode.PROTOCOL,
      'transaction takes [epoch, base, readKeys, keySpaceRead, writes, queue?, heldClaim?]',
    )
  }
  // A base revision of another server (before a restart) says nothing about this one.
  if (epoch !== store.epoch)
    throw new ConflictError('transaction: its base is from another server epoch', ['*'], store.revision)
  if (!isRevision(base) || base > store.revision) {
    throw new ZStateError(
      ErrorCode.PROTOCOL,
      `transaction: base revision must be an integer in 0..${store.revision}`,
    )
  }
  const changes = writes.map(readWrite)
  // Each key once: a patch's result is worked out from the value before the transaction, while
  // replicas apply changes in order, so a key written twice would leave them with other values.
  // (Most transactions write one key: no set to check.)
  if (changes.length > 1) {
    const written = new Set<string>()
    for (const change of changes) {
      if (written.has(change[0]!))
        throw new ZStateError(
          ErrorCode.PROTOCOL,
          `transaction: its writes name ${JSON.stringify(change[0])} more than once`,
        )
      written.add(change[0]!)
    }
  }
  const touched = new Set<string>(reads.map(key))
  for (const change of changes) touched.add(change[0]!)
  return { base, changes, touched, keySpace, queue, held }
}

// Commits a transaction if nothing it touched changed after its base; ERR_CONFLICT otherwise.
export function runTransaction(txn: Transaction, store: StoreView, commit: Commit): unknown[] {
  const conflicts = store.changedSince(txn.base, txn.touched, txn.keySpace)
  if (conflicts.length > 0) {
    throw new ConflictError(
      `transaction conflicts with revisions after ${txn.base}: ${conflicts.join(', ')}`,
      conflicts,
      store.revision,
    )
  }
  const { changes } = txn
  if (changes.length === 0) return [0]
  const patched = new Map<string, unknown>()
  for (const change of changes)
    if (change[1] === ChangeKind.PATCH) patched.set(change[0], store.patched(change[0], change[2]))
  return [commit(changes, patched)]
}

// A SET's or CAS's [ephemeral, ttl] as the lease its change carries; undefined: the key becomes permanent.
function readLease(op: string, ephemeral: unknown, ttl: unknown): WireLease | undefined {
  if (typeof ephemeral !== 'boolean' || typeof ttl !== 'number')
    throw new ZStateError(ErrorCode.PROTOCOL, `${op}: ephemeral must be a boolean and ttl a number of ms`)
  if (ttl !== 0 && !isTtl(ttl))
    throw invalidArgument(
      `${op}: ttl must be an integer from 1 to ${MAX_TTL_MS} ms (or 0 for none), got ${shown(ttl)}`,
    )
  return leaseFor(ephemeral, ttl, Date.now())
}

// A set change, with its lease if it has one.
function setChange(k: string, v: unknown, lease: WireLease | undefined): WireChange {
  return lease === undefined ? [k, ChangeKind.SET, v] : [k, ChangeKind.SET, v, lease]
}

// One write of a transaction: a set, a patch or a delete of one key (each key at most once).
function readWrite(raw: unknown): WireChange {
  if (!Array.isArray(raw))
    throw new ZStateError(ErrorCode.PROTOCOL, 'transaction writes are [key, kind, payload?]')
  const k = key(raw[0])
  if (raw[1] === ChangeKind.SET && raw.length === 3) return [k, ChangeKind.SET, value(raw[2])]
  if (raw[1] === ChangeKind.PATCH && raw.length === 3) return [k, ChangeKind.PATCH, readWirePatches(raw[2])]
  if (raw[1] === ChangeKind.DELETE && raw.length === 2) return [k, ChangeKind.DELETE]
  throw new ZStateError(
    ErrorCode.PROTOCOL,
    'transaction writes are [key, 0, value], [key, 1, patches] or [key, 2]',
  )
}
