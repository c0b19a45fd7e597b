import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type WorkerContext } from '../lib/index.ts'
import { contextFor, failure, stressFor } from './process-support.ts'
import { tempDir } from './support.ts'

type Shared = Record<string, unknown>

// Batches of numbers travel packed (lib/process/numbers.ts): every number must come back as it
// was, both ways, in processes and threads, and batches that mix in other values go as they are.
void test('process: map carries every number exactly, -0, NaN and the infinities included, in processes and threads', async (t) => {
  const ctx = await contextFor(t)
  const special = [-0, 0, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -1.5, 2 ** 53 + 2]
  const items = Array.from({ length: 2_000 }, (_, i) => special[i % special.length]!)
  // Each item comes back as sent (Object.is tells -0 from 0), plus what the worker saw of it.
  const echo = (_c: WorkerContext, x: number) => [x, Object.is(x, -0) ? '-0' : typeof x]
  const numbers = (_c: WorkerContext, x: number) => x
  for (const thread of [false, true]) {
    const seen = await ctx.map(echo, items, { concurrency: 2, thread })
    seen.forEach(([x, kind], i) => {
      assert.ok(Object.is(x, items[i]), `${thread ? 'thread' : 'process'}: item ${i}: ${String(x)}`)
      assert.equal(kind, Object.is(items[i], -0) ? '-0' : 'number')
    })
    const back = await ctx.map(numbers, items, { concurrency: 2, thread })
    back.forEach((x, i) => assert.ok(Object.is(x, items[i]), `${thread ? 'thread' : 'process'}: result ${i}`))
  }
  const mixed = items.map((x, i) => (i % 100 === 99 ? `s${i}` : x))
  const mixedBack = await ctx.map((_c: WorkerContext, x: unknown) => x, mixed, { concurrency: 2 })
  mixedBack.forEach((x, i) => assert.ok(Object.is(x, mixed[i]), `mixed ${i}`))
})

void test('process: map returns results in input order and calls onProgress once with done === total', async (t) => {
  const ctx = await contextFor(t)
  const count = stressFor(300, 100_000)
  const items = Array.from({ length: count }, (_, i) => i + 1)
  const progress: [number, number | undefined][] = []
  const squares = await ctx.map((_c: WorkerContext, x: number) => x * x, items, {
    concurrency: 2,
    onProgress: (done, total) => progress.push([done, total]),
  })
  assert.deepEqual(
    squares,
    items.map((x) => x * x),
  )
  assert.deepEqual(progress.at(-1), [count, count])
  assert.equal(progress.filter(([done, total]) => done === total).length, 1)
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] > progress[i - 1]![0])
  const empty: [number, number | undefined][] = []
  assert.deepEqual(await ctx.map(() => 1, [], { onProgress: (done, total) => empty.push([done, total]) }), [])
  assert.deepEqual(empty, [[0, 0]])
})

void test('process: map keeps input order when items take different times, with index passed along', async (t) => {
  const ctx = await contextFor(t)
  const items = Array.from({ length: 24 }, (_, i) => ({ id: i, delay: (i * 7) % 5 }))
  const results = await ctx.map(
    async (_c: WorkerContext, item: { id: number; delay: number }, index: number) => {
      await new Promise((resolve) => setTimeout(resolve, item.delay))
      return `${item.id}@${index}`
    },
    items,
    { concurrency: 3 },
  )
  assert.deepEqual(
    results,
    items.map((item, i) => `${item.id}@${i}`),
  )
})

void test('process: map pulls an async iterable lazily: an endless one can be aborted', async (t) => {
  const ctx = await contextFor(t)
  let pulled = 0
  let finished = false
  async function* endless(): AsyncGenerator<number> {
    try {
      for (;;) yield pulled++
    } finally {
      finished = true
    }
  }
  const controller = new AbortController()
  const reason = new Error('enough')
  const error = await failure(
    ctx.map((_c: WorkerContext, x: number) => x, endless(), {
      concurrency: 2,
      signal: controller.signal,
      onProgress: (done, total) => {
        assert.equal(total, undefined, 'the total of an endless input is never known')
        if (done >= 50) controller.abort(reason)
      },
    }),
  )
  assert.equal(error, reason)
  assert.ok(finished, 'the iterator was closed')
  assert.ok(Number.isFinite(pulled))
})

// A producer that makes each item only once the result of the one before has come back: a batch
// waiting to be filled with items the producer has not made would never be sent (outside audit: with
// a slow producer, items waited for the batch of 8, then of 64, to fill; results came ever more rarely).
void test('process: map sends the items a slow producer has made without waiting for more, in map and mapUnordered', async (t) => {
  const ctx = await contextFor(t)
  const count = 30
  let results = 0
  let resultCame: () => void = () => {}
  async function* stepByStep(): AsyncGenerator<number> {
    for (let i = 0; i < count; i++) {
      while (results < i) await new Promise<void>((resolve) => (resultCame = resolve))
      yield i
    }
  }
  const counted = (): void => {
    results++
    resultCame()
  }
  const signal = AbortSignal.timeout(60_000)
  const ordered = await ctx.map((_c: WorkerContext, x: number) => x * 2, stepByStep(), {
    concurrency: 2,
    signal,
    onProgress: (done) => {
      results = done
      resultCame()
    },
  })
  assert.deepEqual(
    ordered,
    Array.from({ length: count }, (_, i) => i * 2),
  )
  results = 0
  const unordered: number[] = []
  for await (const { value } of ctx.mapUnordered((_c: WorkerContext, x: number) => x * 3, stepByStep(), {
    signal,
  })) {
    unordered.push(value)
    counted()
  }
  assert.deepEqual(
    unordered.sort((a, b) => a - b),
    Array.from({ length: count }, (_, i) => i * 3),
  )
})

// While a producer waits for a result, the map is never waiting on it: an item that failed goes round
// again, though the producer makes nothing until it is back. What the producer throws, at once or after
// a pause, fails the map with it, and the map ends its workers.
void test('process: map retries while the producer waits for the result; what a producer throws fails the map', async (t) => {
  const ctx = await contextFor(t)
  const dir = tempDir(t)
  let done = 0
  let progressed: () => void = () => {}
  async function* waitsForEach(): AsyncGenerator<number> {
    for (let i = 0; i < 6; i++) {
      while (done < i) await new Promise<void>((resolve) => (progressed = resolve))
      yield i
    }
  }
  const onProgress = (now: number): void => {
    done = now
    progressed()
  }
  const failsOnce = (_c: unknown, x: number, _index: number, where: string) => {
    const fs = process.getBuiltinModule('node:fs')
    if (x === 3 && !fs.existsSync(`${where}/failed`)) {
      fs.writeFileSync(`${where}/failed`, '')
      throw new Error('first attempt')
    }
    return x + 1
  }
  const results = await ctx.map(failsOnce, waitsForEach(), {
    args: [dir],
    retries: 1,
    signal: AbortSignal.timeout(60_000),
    onProgress,
  })
  assert.deepEqual(results, [1, 2, 3, 4, 5, 6])

  const broken = new Error('the producer broke')
  // It pauses until its first item's result is in (past a turn of the event loop), then throws.
  async function* breaksAfterAPause(): AsyncGenerator<number> {
    done = 0
    yield 1
    while (done < 1) await new Promise<void>((resolve) => (progressed = resolve))
    throw broken
  }
  function* breaksAtOnce(): Generator<number> {
    yield 1
    throw broken
  }
  for (const items of [breaksAfterAPause(), breaksAtOnce()])
    assert.equal(
      await failure(ctx.map((_c: unknown, x: number) => x, items, { concurrency: 2, onProgress })),
      broken,
    )
})

// A producer's next() must return an object, as for…of and for await require: one that returns
// anything else fails the map with a TypeError (it made an endless map of undefined items).
void test('process: an input iterator whose next() returns no object fails the map with a TypeError', async (t) => {
  const ctx = await contextFor(t)
  const sync = { [Symbol.iterator]: () => ({ next: () => 7 }) }
  const async = { [Symbol.asyncIterator]: () => ({ next: async () => 42 }) }
  for (const items of [sync, async])
    await assert.rejects(
      ctx.map((_c: unknown, x: unknown) => x, items as never),
      (error: Error) =>
        error instanceof TypeError && /iterator result (7|42) is not an object/.test(error.message),
    )
})

// mapUnordered yields a result once the parent's state shows the item's awaited writes, as a child's
// wait() does (outside audit: 42 of 200 were not yet there when yielded); and next() calls made before
// the last one settled each get their turn, as an async generator's do (all but the last hung).
void test(
  'process: mapUnordered yields each result once its writes show in the parent; overlapping next() calls all settle',
  { timeout: 120_000 },
  async (t) => {
    const ctx = await contextFor<Shared>(t)
    const count = 200
    let missing = 0
    for await (const { index, value } of ctx.mapUnordered(
      async (c: WorkerContext<Shared>, x: number) => {
        await c.state.set(`k/${x}`, x)
        return x
      },
      Array.from({ length: count }, (_, i) => i),
      { concurrency: 3 },
    )) {
      assert.equal(value, index)
      if (ctx.state.get(`k/${index}`) !== index) missing++
    }
    assert.equal(missing, 0, `${missing} of ${count} results came before their writes`)

    const results = ctx.mapUnordered((_c: WorkerContext, x: number) => x * 2, [1, 2, 3, 4, 5], {
      concurrency: 1,
    })
    const steps = await Promise.all(Array.from({ length: 7 }, () => results.next()))
    assert.deepEqual(
      steps
        .filter((step) => step.done !== true)
        .map((step) => step.value.value)
        .sort((a, b) => a - b),
      [2, 4, 6, 8, 10],
    )
    assert.deepEqual(
      steps.slice(5).map((step) => step.done),
      [true, true],
    )
  },
)

void test('process: what onProgress throws partway fails the map with it; the parent runs on', async (t) => {
  const ctx = await contextFor(t)
  const thrown = new Error('progress refused')
  let calls = 0
  const error = await failure(
    ctx.map(
      (_c: WorkerContext, x: number) => x,
      Array.from({ length: 200 }, (_, i) => i),
      {
        concurrency: 2,
        onProgress: (done, total) => {
          calls++
          if (done > 0 && done < total!) throw thrown
        },
      },
    ),
  )
  assert.equal(error, thrown)
  assert.equal(calls, 1)
  // The pool was stopped; the context still maps.
  assert.deepEqual(await ctx.map((_c: WorkerContext, x: number) => x * 2, [1, 2]), [2, 4])
})
