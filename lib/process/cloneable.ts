import { serialize } from 'node:v8'
import { isMainThread } from 'node:worker_threads'
import { withPlainSnapshots } from '../client/snapshot-view.ts'

/**
 * How a value travels between a parent and a child: to or from a process over its IPC channel
 * (serialization 'advanced', v8.serialize: a copy, so a SharedArrayBuffer cannot go), to or from a
 * thread over a port (structured clone, which shares one).
 */
export type Route = 'process' | 'thread'

// The route to a child started as a thread or not.
export function routeTo(thread: boolean): Route {
  return thread ? 'thread' : 'process'
}

// A child's route to its parent: a process child's code runs on its main thread, a thread's not.
export const toParent: Route = isMainThread ? 'process' : 'thread'

// Whether a value survives the route: how arguments, items and results cross to children.
export function cloneable(value: unknown, route: Route): boolean {
  try {
    travel(value, route)
    return true
  } catch {
    return false
  }
}

// `value`, or, when the route refuses it for the state snapshots in it (each a Proxy), the same with
// each snapshot a plain copy: a snapshot reads as a frozen plain object, and crosses as one. The error
// the route gave when even that does not survive it.
export function sendable(value: unknown, route: Route): { value: unknown } | { error: Error } {
  try {
    travel(value, route)
    return { value }
  } catch (error) {
    const plain = withPlainSnapshots(value)
    return plain !== value && cloneable(plain, route) ? { value: plain } : { error: error as Error }
  }
}

function travel(value: unknown, route: Route): void {
  if (route === 'process') serialize(value)
  else structuredClone(value)
}
