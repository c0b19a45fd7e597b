import { withPlainSnapshots } from '../client/snapshot-view.ts'

// Whether a value survives structured clone: how arguments, items and results cross to children.
export function cloneable(value: unknown): boolean {
  try {
    structuredClone(value)
    return true
  } catch {
    return false
  }
}

// `value`, or, when structured clone refuses it for the state snapshots in it (each a Proxy), the
// same with each snapshot a plain copy: a snapshot reads as a frozen plain object, and crosses as
// one. The error structured clone gave when even that does not survive it.
export function sendable(value: unknown): { value: unknown } | { error: Error } {
  try {
    structuredClone(value)
    return { value }
  } catch (error) {
    const plain = withPlainSnapshots(value)
    return plain !== value && cloneable(plain) ? { value: plain } : { error: error as Error }
  }
}
