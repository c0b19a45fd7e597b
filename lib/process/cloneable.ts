// Whether a value survives structured clone: how arguments, items and results cross to children.
export function cloneable(value: unknown): boolean {
  try {
    structuredClone(value)
    return true
  } catch {
    return false
  }
}
