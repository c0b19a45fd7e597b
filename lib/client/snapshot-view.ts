// state.snapshot(): the replica at one revision as a read-only object that behaves like a frozen
// plain one, at O(1) to create whatever the size of the store. It is a Proxy reading a BaseView;
// the first operation that needs the whole key set (enumeration, isFrozen) copies the entries into
// the Proxy's target, freezes it and lets go of the view.
import { inspect } from 'node:util'
import type { BaseView } from './base-view.ts'

export type Snapshot = Readonly<Record<string, unknown>>
type Target = Record<PropertyKey, unknown>

// A snapshot that nobody holds any more closes its view, so the replica stops keeping old values
// for it: users never close snapshots.
const release = new FinalizationRegistry<BaseView>((view) => view.close())

// util.inspect shows a Proxy's target without asking the Proxy: show a plain copy instead.
function show(this: Snapshot): Record<string, unknown> {
  return { ...this }
}

// Every snapshot handed out: structured clone refuses a Proxy, so what crosses to a child or thread
// takes a plain copy of each (withPlainSnapshots).
const snapshots = new WeakSet<object>()

// The keys of `view` that start with `prefix`, without it.
export function snapshotOf(view: BaseView, prefix: string): Snapshot {
  const target: Target = {}
  Object.defineProperty(target, inspect.custom, { value: show })
  const snapshot = new Proxy(target, new Handler(view, prefix)) as Snapshot
  release.register(snapshot, view, view)
  snapshots.add(snapshot)
  return snapshot
}

// `value` with every snapshot in it (itself, or at any depth of its arrays and plain objects) a
// frozen plain copy; arrays and plain objects around one are copied, the rest kept as they are.
export function withPlainSnapshots(value: unknown, copies = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (snapshots.has(value)) return Object.freeze({ ...value })
  const done = copies.get(value)
  if (done !== undefined) return done
  if (Array.isArray(value)) {
    const copy: unknown[] = []
    copies.set(value, copy)
    for (const item of value) copy.push(withPlainSnapshots(item, copies))
    return copy
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return value
  const copy: Record<string, unknown> = {}
  copies.set(value, copy)
  for (const [key, item] of Object.entries(value)) copy[key] = withPlainSnapshots(item, copies)
  return copy
}

// One object per snapshot, not a closure per trap: creating a snapshot stays cheap.
class Handler implements ProxyHandler<Target> {
  // Undefined once the target holds every entry and is frozen.
  #view: BaseView | undefined
  readonly #prefix: string

  constructor(view: BaseView, prefix: string) {
    this.#view = view
    this.#prefix = prefix
  }

  get(target: Target, p: PropertyKey, receiver: unknown): unknown {
    const view = this.#view
    if (view !== undefined && typeof p === 'string') {
      const value = view.get(this.#prefix + p)
      if (value !== undefined || view.has(this.#prefix + p)) return value
    }
    return Reflect.get(target, p, receiver)
  }

  has(target: Target, p: PropertyKey): boolean {
    const view = this.#view
    return (view !== undefined && typeof p === 'string' && view.has(this.#prefix + p)) || p in target
  }

  // One entry is copied on its own, so Object.hasOwn stays O(1); the target only ever holds entries.
  getOwnPropertyDescriptor(target: Target, p: PropertyKey): PropertyDescriptor | undefined {
    const view = this.#view
    if (view !== undefined && typeof p === 'string' && !Object.hasOwn(target, p)) {
      const key = this.#prefix + p
      if (view.has(key)) define(target, p, view.get(key))
    }
    return Reflect.getOwnPropertyDescriptor(target, p)
  }

  ownKeys(target: Target): (string | symbol)[] {
    this.#whole(target)
    return Reflect.ownKeys(target)
  }

  isExtensible(target: Target): boolean {
    this.#whole(target)
    return false
  }

  preventExtensions(target: Target): boolean {
    this.#whole(target)
    return true
  }

  set(): boolean {
    return false
  }

  deleteProperty(target: Target, p: PropertyKey): boolean {
    const view = this.#view
    if (view !== undefined && typeof p === 'string' && view.has(this.#prefix + p)) return false
    return Reflect.deleteProperty(target, p)
  }

  // As on a frozen object: redefining a property as it is succeeds, anything else fails.
  defineProperty(target: Target, p: PropertyKey, descriptor: PropertyDescriptor): boolean {
    this.#whole(target)
    return Reflect.defineProperty(target, p, descriptor)
  }

  setPrototypeOf(target: Target, proto: object | null): boolean {
    this.#whole(target)
    return Reflect.setPrototypeOf(target, proto)
  }

  // Copies every entry into the target (O(keys), once), freezes it and closes the view.
  #whole(target: Target): void {
    const view = this.#view
    if (view === undefined) return
    const prefix = this.#prefix
    for (const full of view.keys()) {
      if (!full.startsWith(prefix)) continue
      const key = full.slice(prefix.length)
      if (Object.hasOwn(target, key)) continue
      // Frozen right after: an assignment is several times faster than defining ("__proto__" would
      // set the prototype).
      if (key === '__proto__') define(target, key, view.get(full))
      else target[key] = view.get(full)
    }
    Object.freeze(target)
    this.#view = undefined
    release.unregister(view)
    view.close()
    // From now on a frozen plain object answers everything: without traps, the Proxy hands every
    // operation to it natively (through traps, an enumeration of 300,000 keys took a second, each
    // key a call of getOwnPropertyDescriptor and a descriptor made).
    Object.setPrototypeOf(this, null)
  }
}

function define(target: Target, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true })
}
