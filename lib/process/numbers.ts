// map()'s batches travel by structured clone, which rebuilds an array's numbers one by one on the
// other side. A batch of numbers only (items or results) travels as a Float64Array instead: one copy
// each way, and every number comes back as it was, -0, NaN and the infinities included. Either side
// reads a packed batch as it is, by index: turned back into an array, its numbers would be copied
// once more.

// Shorter batches are not worth the check.
const MIN_PACKED = 16

export type Packed = readonly unknown[] | Float64Array

export function packNumbers(values: readonly unknown[]): Packed {
  if (values.length < MIN_PACKED) return values
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') return values
  return Float64Array.from(values as readonly number[])
}
