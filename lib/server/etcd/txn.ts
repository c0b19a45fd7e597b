// One zstate commit (or one validation of an outcome that commits nothing) as an etcd transaction:
// it applies only if nothing the operation read has changed in etcd since the replica's revision.
import type { ICompare, IRequestOp, ITxnRequest, ITxnResponse } from 'etcd3'
import { encode } from '../../protocol/codec.ts'
import { ChangeKind, type WireChange } from '../../protocol/ops.ts'
import type { Store } from '../store.ts'
import { encodeValue, type Layout } from './layout.ts'
import type { ReadSet } from './read-set.ts'

export interface Staged {
  changes: WireChange[]
  patched: ReadonlyMap<string, unknown> | undefined
}

export interface TxnPlan {
  layout: Layout
  store: Store
  // Keys etcd holds with values no zstate client could read (absent from the store), by mod revision:
  // a write of one compares what etcd has, and overwrites it.
  unreadable: ReadonlyMap<string, number>
  keySpaceRevision: number
  reads: ReadSet
  // undefined: only check the reads (an outcome that commits nothing).
  staged: Staged | undefined
  // [gatewayId, write]: the commit's origin, for the gateway that waits for it.
  writer: readonly [string, number]
  // The etcd lease of the writer's session, for its ephemeral keys.
  lease: string | undefined
  // The writing gateway's fence (lib/server/etcd/writes.ts): a write sent before it moved never commits.
  fence: { key: Buffer; revision: number }
  // A clear's prefix ('' for every key): one deletion of its range, whatever keys it holds when the
  // transaction applies (a deletion per key would be bounded by etcd's operations limit). Its staged
  // changes (the keys the replica holds there) only say whether there is anything to delete.
  clear: string | undefined
}

// Where the commit was refused, it reads what it compared, and the origin of the last commit: the
// replica must reach their revisions before the write is worked out again (failedAt()).
export function transaction(plan: TxnPlan): ITxnRequest {
  const compare = compares(plan)
  const success = plan.staged === undefined ? [] : writes(plan, compare)
  const keys = new Map<string, Buffer>([[plan.layout.tx.toString('latin1'), plan.layout.tx]])
  for (const { key } of compare) keys.set(key!.toString('latin1'), key!)
  const failure = [...keys.values()].map((key): IRequestOp => ({ request_range: { key, keys_only: true } }))
  return { compare, success, failure }
}

// The revision a replica needs to see why a transaction failed: the last change of what it compared.
export function failedAt(response: ITxnResponse): number {
  let revision = 0
  for (const op of response.responses)
    for (const kv of op.response_range?.kvs ?? []) revision = Math.max(revision, Number(kv.mod_revision))
  return revision
}

function compares(plan: TxnPlan): ICompare[] {
  const { layout, reads } = plan
  const compare: ICompare[] = []
  for (const key of reads.read) compare.push(unchanged(layout.key(key), revisionInEtcd(plan, key)))
  if (reads.keySpace) compare.push(unchanged(layout.keySpace, plan.keySpaceRevision))
  return compare
}

// The puts and deletes of the staged changes; adds the compares they need to `compare`.
function writes(plan: TxnPlan, compare: ICompare[]): IRequestOp[] {
  const { layout, store, reads } = plan
  const staged = plan.staged!
  compare.push(unchanged(plan.fence.key, plan.fence.revision))
  if (plan.clear !== undefined)
    return closing(plan, [{ request_delete_range: layout.range(plan.clear) }], true)
  // One operation per key (etcd refuses a key twice in one transaction): the last write wins.
  const writes = new Map<string, IRequestOp>()
  let keySpaceChanged = false
  for (const change of staged.changes) {
    const key = change[0]
    const exists = store.has(key!)
    // A write the operation did not read still depends on whether the key exists: it decides
    // whether the key space changes.
    if (!reads.read.has(key!))
      compare.push(exists || plan.unreadable.has(key!) ? present(layout.key(key!)) : absent(layout.key(key!)))
    if (change[1] === ChangeKind.DELETE) {
      writes.set(key!, { request_delete_range: { key: layout.key(key!) } })
      keySpaceChanged ||= exists
    } else {
      const value = change[1] === ChangeKind.PATCH ? staged.patched!.get(key!) : change[2]
      const lease = change[1] === ChangeKind.SET && change.length === 4 ? change[3] : undefined
      const put = { key: layout.key(key!), value: encodeValue(value, lease) }
      writes.set(key!, {
        request_put: lease?.[0] === true && plan.lease !== undefined ? { ...put, lease: plan.lease } : put,
      })
      keySpaceChanged ||= !exists
    }
  }
  return closing(plan, [...writes.values()], keySpaceChanged)
}

// A commit's operations, then the rewrites every commit makes: <prefix>_ks if keys were created or
// deleted, and <prefix>_tx, which names its origin.
function closing(plan: TxnPlan, success: IRequestOp[], keySpaceChanged: boolean): IRequestOp[] {
  const { layout } = plan
  if (keySpaceChanged) success.push({ request_put: { key: layout.keySpace, value: Buffer.alloc(0) } })
  success.push({ request_put: { key: layout.tx, value: encode(plan.writer) } })
  return success
}

// The mod revision etcd holds for `key` as the replica knows it (0: absent).
function revisionInEtcd(plan: TxnPlan, key: string): number {
  return plan.store.revisionOf(key) || (plan.unreadable.get(key) ?? 0)
}

function unchanged(key: Buffer, revision: number): ICompare {
  return { key, target: 'Mod', result: 'Equal', mod_revision: revision }
}
function present(key: Buffer): ICompare {
  return { key, target: 'Version', result: 'Greater', version: 0 }
}
function absent(key: Buffer): ICompare {
  return { key, target: 'Version', result: 'Equal', version: 0 }
}
