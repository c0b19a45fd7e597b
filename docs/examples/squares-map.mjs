// The squares pipeline with ctx.map: producer, workers and collector in one call. map pulls the
// numbers lazily, keeps every worker busy, and resolves with the squares in input order once the
// last one is back: nobody needs to know in advance how many numbers there are.
//
//   node docs/examples/squares-map.mjs [how-many]
import { createContext } from 'zstate'

// The producer: an async iterable whose length nobody is told.
async function* numbers(limit) {
  for (let n = 1; n <= limit; n++) yield n
}

const ctx = await createContext()
try {
  const limit = Number(process.argv[2] ?? 100)
  const squares = await ctx.map(new URL('./square.mjs', import.meta.url), numbers(limit), { concurrency: 3 })
  const sum = squares.reduce((a, b) => a + b, 0)
  console.log(`squared ${squares.length} numbers: sum of squares = ${sum}`)
} finally {
  await ctx.close()
}
