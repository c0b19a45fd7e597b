// The collector of squares-services.mjs: sums what the workers hand it until the producer says
// how many there were.
export default async function collector(ctx) {
  let count = 0
  let sum = 0
  let finished
  const done = new Promise((resolve) => (finished = resolve))
  const service = await ctx.provide('collector', {
    add(n, square) {
      count++
      sum += square
    },
    finish(expected) {
      if (count !== expected) throw new Error(`expected ${expected} squares, collected ${count}`)
      finished()
      return { count, sum }
    },
  })
  await done
  await service.close()
  return { count, sum }
}
