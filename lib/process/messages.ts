// What a parent and its bootstrapped child (process or thread) say to each other. Process children
// use Node's IPC channel with `serialization: 'advanced'`, threads their port: both structured clone.
import type { CurveCredentials } from '../link/handshake.ts'
import type { Packed } from './numbers.ts'
import type { SerializedError } from './remote-error.ts'
import type { Target } from './target.ts'
import type { Position } from '../connect.ts'

export interface Job {
  readonly t: 'job'
  // single: run the target once with args; map: run it per item of every batch until 'end'.
  readonly mode: 'single' | 'map'
  readonly target: Target
  readonly args: readonly unknown[]
  readonly name: string
  // The context's CURVE keys, when its server has curve: they travel only in this message.
  readonly curve?: CurveCredentials | undefined
  // The key prefixes the child replicates (spawn's and map's `replicate`); absent: everything.
  readonly replicate?: readonly string[] | undefined
  // This attempt's secret token, for its client's HELLO (lib/server/child-sessions.ts).
  readonly childToken?: string | undefined
}

export interface ItemBatch {
  readonly t: 'items'
  readonly batch: number
  // The items' indices: first, first + 1, … unless `indices` lists them.
  readonly first: number
  readonly indices: readonly number[] | undefined
  // Numbers only travel packed (lib/process/numbers.ts).
  readonly items: Packed
}

export type ToChild =
  | Job
  | ItemBatch
  | { readonly t: 'abort' }
  | { readonly t: 'end' }
  // Hand back a batch not yet started (answered 'revoked'); one already started runs and reports.
  | { readonly t: 'revoke'; readonly batch: number }
  // To a warm pool's child: load zstate's client now, then say 'warm'.
  | { readonly t: 'warm-up' }

export interface BatchResults {
  readonly t: 'results'
  readonly batch: number
  // One per item; an entry listed in `failed` holds undefined. Numbers only travel packed.
  readonly values: Packed
  readonly failed: readonly (readonly [position: number, error: SerializedError])[]
  // Time spent running the items, ms: what batch sizing goes by.
  readonly ms: number
  // Where the worker's replica stood after them, its own writes included; absent when the worker has
  // no context (its target never reads its ctx).
  readonly seen: Position | undefined
}

export type FromChild =
  // A warm child (lib/process/warm-pool.ts) has loaded zstate's client, as 'warm-up' asked, and waits
  // for its job.
  | { readonly t: 'warm' }
  // A warm child has the job (its first message on it): from now on it runs the job or reports why not.
  | { readonly t: 'took' }
  // `joined`: whether the child joined the server (a map worker whose target never reads its ctx
  // does not).
  | { readonly t: 'ready'; readonly joined: boolean }
  // `seen`: where the child's replica stood, its own writes included; undefined: it had none.
  | { readonly t: 'result'; readonly value: unknown; readonly seen: Position | undefined }
  | { readonly t: 'error'; readonly error: SerializedError }
  | BatchResults
  // A batch handed back unstarted, on the parent's 'revoke'.
  | { readonly t: 'revoked'; readonly batch: number }

export function isFromChild(message: unknown): message is FromChild {
  return typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string'
}
