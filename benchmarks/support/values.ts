// The data every scenario stores: key i and a plain object of about 100 bytes when MessagePack-encoded,
// the same for zstate and its baselines (Redis stores its JSON).

export interface Item {
  readonly id: number
  readonly name: string
  readonly active: boolean
  readonly tags: readonly string[]
  readonly note: string
}

export function keyOf(i: number): string {
  return `item:${i}`
}

export function itemOf(i: number): Item {
  return {
    id: i,
    name: `item number ${String(i).padStart(6, '0')}`,
    active: i % 2 === 0,
    tags: ['bench', 'zstate'],
    note: 'x'.repeat(40),
  }
}

// Writes keys 0..count-1 in chunks, each chunk one update (one revision), so filling a large store is
// quick and does not depend on the performance of single sets being measured elsewhere.
export async function fill(
  update: (values: Record<string, Item>) => Promise<unknown>,
  count: number,
  chunk = 1_000,
): Promise<void> {
  for (let from = 0; from < count; from += chunk) {
    const values: Record<string, Item> = {}
    for (let i = from; i < Math.min(count, from + chunk); i++) values[keyOf(i)] = itemOf(i)
    await update(values)
  }
}
