// Spec helper: counts O(store) steps without timing them.

// Counts the elements visited by iterating any Map of `minSize` or more entries while `fn` runs, in
// this process (client replica and in-process server alike): an O(store) step shows up as a full pass.
export async function bigMapVisits(minSize: number, fn: () => Promise<void>): Promise<number> {
  const proto = Map.prototype as unknown as Record<PropertyKey, (...args: unknown[]) => unknown>
  const names: PropertyKey[] = [Symbol.iterator, 'entries', 'keys', 'values', 'forEach']
  const originals = names.map((name) => proto[name]!)
  let visits = 0
  names.forEach((name, i) => {
    const original = originals[i]!
    proto[name] = function (this: Map<unknown, unknown>, ...args: unknown[]) {
      if (this.size >= minSize) visits += this.size
      return original.apply(this, args)
    }
  })
  try {
    await fn()
  } finally {
    names.forEach((name, i) => (proto[name] = originals[i]!))
  }
  return visits
}
