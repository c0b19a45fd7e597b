// The draft a transaction or server action works on: a thin Proxy over the store that records
// which keys were read (and whether the key space was enumerated) and hands out an immer draft
// per object value touched, so a transaction costs what it touches, not the size of the store.
import type { Draft as ImmerDraft } from 'immer'
import { ErrorCode, ZStateError } from '../errors.ts'
import { ChangeKind, type WireChange } from './ops.ts'
import { immer } from './immer.ts'
import { toWirePatches, type WirePatch } from './patches.ts'
import { scopedKey, toStoredValue } from './values.ts'

// The state a draft reads from: fixed at one revision for the draft's whole life. A partial replica's
// refuses the keys it does not hold, and says which those are (`covers`).
export interface DraftSource {
  get(key: string): unknown
  has(key: string): boolean
  keys(): Iterable<string>
  covers?(key: string): boolean
}

const DELETED = Symbol('deleted')
// Names JavaScript itself looks up on any object: `then` as a promise settles with it (fn returning
// the draft), `toJSON` in JSON.stringify. Not held by a partial replica, or on a settled draft, they
// read as absent instead of being refused: a key of the state was not asked for.
const PROBES = new Set(['then', 'toJSON'])

export class DraftRecorder {
  readonly reads = new Set<string>()
  keySpaceRead = false
  readonly root: Record<string, unknown>
  readonly #source: DraftSource
  readonly #prefix: string
  readonly #assigned = new Map<string, { value: unknown } | typeof DELETED>()
  readonly #drafts = new Map<string, ImmerDraft<object>>()
  #closed = false

  constructor(source: DraftSource, prefix: string) {
    this.#source = source
    this.#prefix = prefix
    this.root = new Proxy(Object.create(null) as Record<string, unknown>, {
      get: (_, prop) => {
        if (typeof prop === 'symbol') return undefined
        if (PROBES.has(prop) && (this.#closed || this.#source.covers?.(this.#prefix + prop) === false))
          return undefined
        return this.#get(this.#key(prop))
      },
      set: (_, prop, value) => this.#assign(prop, { value }),
      defineProperty: (_, prop, descriptor) => this.#assign(prop, { value: descriptor.value }),
      deleteProperty: (_, prop) => this.#assign(prop, DELETED),
      has: (_, prop) => typeof prop === 'string' && this.#has(this.#key(prop)),
      ownKeys: () => this.#keys(),
      getOwnPropertyDescriptor: (_, prop) => {
        if (typeof prop === 'symbol') return undefined
        const key = this.#key(prop)
        // After an enumeration (Object.keys asks for every key's descriptor) the key space is already
        // read: peeking must not make each value a read. Values are read by [[Get]] as usual.
        if (this.keySpaceRead) return this.#peekDescriptor(key)
        return this.#has(key)
          ? { value: this.#get(key), writable: true, enumerable: true, configurable: true }
          : undefined
      },
    })
  }

  #key(prop: string): string {
    if (this.#closed)
      throw new ZStateError(ErrorCode.INVALID_ARGUMENT, 'the draft was used after its transaction settled')
    return scopedKey(this.#prefix, prop)
  }

  #get(key: string): unknown {
    const assigned = this.#assigned.get(key)
    if (assigned !== undefined) return assigned === DELETED ? undefined : assigned.value
    const existing = this.#drafts.get(key)
    if (existing !== undefined) return existing
    this.reads.add(key)
    const value = this.#source.get(key)
    const { module, drafting } = immer()
    if (!module.isDraftable(value) || value instanceof Date || value instanceof Uint8Array) return value
    const draft = drafting.createDraft(value as object)
    this.#drafts.set(key, draft)
    return draft
  }

  #peekDescriptor(key: string): PropertyDescriptor | undefined {
    const assigned = this.#assigned.get(key)
    if (assigned === DELETED) return undefined
    if (assigned === undefined && !this.#drafts.has(key) && !this.#source.has(key)) return undefined
    const value = assigned !== undefined ? assigned.value : (this.#drafts.get(key) ?? this.#source.get(key))
    return { value, writable: true, enumerable: true, configurable: true }
  }

  #has(key: string): boolean {
    const assigned = this.#assigned.get(key)
    if (assigned !== undefined) return assigned !== DELETED
    if (this.#drafts.has(key)) return true
    this.reads.add(key)
    return this.#source.has(key)
  }

  #assign(prop: string | symbol, value: { value: unknown } | typeof DELETED): boolean {
    if (typeof prop === 'symbol') throw new ZStateError(ErrorCode.INVALID_ARGUMENT, 'draft keys are strings')
    const key = this.#key(prop)
    this.#assigned.set(key, value)
    this.#drafts.delete(key)
    return true
  }

  #keys(): string[] {
    if (this.#closed)
      throw new ZStateError(ErrorCode.INVALID_ARGUMENT, 'the draft was used after its transaction settled')
    this.keySpaceRead = true
    const keys = new Set<string>()
    for (const key of this.#source.keys()) if (key.startsWith(this.#prefix)) keys.add(key)
    for (const [key, value] of this.#assigned) {
      if (value === DELETED) keys.delete(key)
      else keys.add(key)
    }
    return [...keys].map((key) => key.slice(this.#prefix.length))
  }

  // Ends the draft: what it changed, as wire changes (assignments copied, drafts as patches).
  finish(): WireChange[] {
    const changes: WireChange[] = []
    try {
      for (const [key, assigned] of this.#assigned) {
        changes.push(
          assigned === DELETED
            ? [key, ChangeKind.DELETE]
            : [key, ChangeKind.SET, toStoredValue(assigned.value)],
        )
      }
      for (const [key, draft] of this.#drafts) {
        let patches: WirePatch[] = []
        immer().drafting.finishDraft(
          draft,
          (made) => (patches = made.length === 0 ? [] : toWirePatches(made)),
        )
        if (patches.length > 0) changes.push([key, ChangeKind.PATCH, patches])
      }
    } finally {
      this.close()
    }
    return changes
  }

  // After this, any use of the draft throws.
  close(): void {
    this.#closed = true
  }
}
