// The work both map() and the hand-written pool do per item, in plain JavaScript (no tsx in workers).

// The classic example: almost no work, so per-item overhead is all there is to measure.
export function square(x) {
  return x * x
}

// A few milliseconds of arithmetic; the same result for the same n.
export function heavy(n) {
  let sum = 0
  for (let i = 1; i <= 600_000; i++) sum += Math.sqrt(i * n) % 1
  return sum
}
