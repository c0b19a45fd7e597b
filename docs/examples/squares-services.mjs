// The squares pipeline by hand: a producer (this process) calls the 'squares' service, which N worker
// processes provide; each worker hands its result to the 'collector' service; a topic tells the
// workers to stop. The producer counts what it produced and tells the collector at the end, so no
// one hard-codes the number of tasks.
//
//   node docs/examples/squares-services.mjs [how-many] [workers]
import { createContext } from 'zstate'

async function* numbers(limit) {
  for (let n = 1; n <= limit; n++) yield n
}

const limit = Number(process.argv[2] ?? 100)
const workerCount = Number(process.argv[3] ?? 3)
const ctx = await createContext()
try {
  const collector = ctx.spawn(new URL('./squares-collector.mjs', import.meta.url), { name: 'collector' })
  const workers = Array.from({ length: workerCount }, (_, i) =>
    ctx.spawn(new URL('./squares-worker.mjs', import.meta.url), { name: `worker-${i + 1}` }),
  )
  // Discovery: wait until every worker and the collector have registered.
  await ctx.waitForService('squares', { providers: workerCount, timeout: 30_000 })
  await ctx.waitForService('collector', { timeout: 30_000 })

  // Produce: one call per number, all in flight; the server spreads them over the workers,
  // round-robin within each worker's concurrency, and queues the rest.
  const squares = ctx.service('squares')
  const calls = []
  for await (const n of numbers(limit)) calls.push(squares.square(n))
  await Promise.all(calls)

  // Every result reached the collector before its call returned: tell it how many there were.
  const { count, sum } = await ctx.call('collector', 'finish', [calls.length])
  // Topics are fine for a broadcast like this one: at most once, and stop() is the fallback.
  await ctx.publish('squares/control', 'stop')
  const done = await Promise.all(workers.map((worker) => worker.wait()))
  await collector.wait()
  console.log(`${workerCount} workers squared ${done.reduce((a, b) => a + b, 0)} numbers`)
  console.log(`collected ${count} squares: sum of squares = ${sum}`)
} finally {
  await ctx.close()
}
