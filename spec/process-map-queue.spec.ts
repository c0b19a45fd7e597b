import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WorkQueue, indexAt, type Batch } from '../lib/process/map-queue.ts'

// map() pulls its input in runs (a few items to start its workers, then what each batch lacks), so
// the batches it sends must not stop where a run does: they came out at half their size and less
// (heavy items went one or two at a time where four were asked for, each batch a round trip).

// Each item of a batch as [index, value].
function items(batch: Batch | undefined): [number, unknown][] {
  assert.ok(batch !== undefined, 'a batch')
  return batch.values.map((value, i) => [indexAt(batch, i), value])
}

void test('map queue: a batch goes on into the runs that follow its first one', () => {
  const queue = new WorkQueue()
  queue.addRun(0, ['a', 'b'])
  queue.addRun(2, ['c'])
  queue.addRun(3, ['d', 'e', 'f'])
  assert.equal(queue.size, 6)
  assert.deepEqual(items(queue.take(4)), [
    [0, 'a'],
    [1, 'b'],
    [2, 'c'],
    [3, 'd'],
  ])
  assert.equal(queue.size, 2)
  assert.deepEqual(items(queue.take(4)), [
    [4, 'e'],
    [5, 'f'],
  ])
  assert.equal(queue.size, 0)
  assert.equal(queue.take(4), undefined)
})

void test('map queue: a batch never spans runs that do not follow each other', () => {
  const queue = new WorkQueue()
  queue.addRun(0, ['a', 'b', 'c', 'd'])
  const first = queue.take(2)
  assert.deepEqual(items(first), [
    [0, 'a'],
    [1, 'b'],
  ])
  assert.deepEqual(items(queue.take(2)), [
    [2, 'c'],
    [3, 'd'],
  ])
  queue.addRun(4, ['e'])
  // A batch its worker never started comes back in front: indices 0..1, then 4.
  queue.requeue(first!)
  assert.equal(queue.size, 3)
  assert.deepEqual(items(queue.take(10)), [
    [0, 'a'],
    [1, 'b'],
  ])
  assert.deepEqual(items(queue.take(10)), [[4, 'e']])
  assert.equal(queue.size, 0)
})

void test('map queue: a batch given back goes out again with the items after it when they follow', () => {
  const queue = new WorkQueue()
  queue.addRun(0, ['a', 'b', 'c'])
  const first = queue.take(2)
  queue.addRun(3, ['d'])
  queue.requeue(first!)
  assert.deepEqual(items(queue.take(10)), [
    [0, 'a'],
    [1, 'b'],
    [2, 'c'],
    [3, 'd'],
  ])
  assert.equal(queue.size, 0)
})

void test('map queue: suspects go alone and items going round again before fresh ones', () => {
  const queue = new WorkQueue()
  queue.addRun(0, ['a', 'b', 'c'])
  queue.suspect(7, 'x')
  queue.again(5, 'y')
  assert.deepEqual(items(queue.take(10)), [[7, 'x']])
  assert.deepEqual(items(queue.take(10)), [[5, 'y']])
  assert.deepEqual(items(queue.take(2)), [
    [0, 'a'],
    [1, 'b'],
  ])
  assert.equal(queue.size, 1)
})
