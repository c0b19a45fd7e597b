// The commits a replica holds before applying them (lib/client/ahead.ts): whatever order, repetition
// and interleaving they arrive in, taking from the applied revision yields the chain exactly once, in
// order, and a missing commit stops it there, reported as a gap.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AheadCommits } from '../lib/client/ahead.ts'
import type { WireCommit } from '../lib/protocol/ops.ts'

// A chain of `length` commits with revisions that are not consecutive (as etcd's may not be).
function chainOf(steps: number[]): WireCommit[] {
  const chain: WireCommit[] = []
  let revision = 0
  for (const step of steps) {
    const previous = revision
    revision += step
    chain.push({ revision, previous, changes: [['k', 0, revision]] })
  }
  return chain
}

// Takes every commit that follows on from `applied`; returns the revisions taken and where it ends.
function drain(ahead: AheadCommits, applied: number): { taken: number[]; applied: number } {
  const taken: number[] = []
  for (let commit = ahead.take(applied); commit !== undefined; commit = ahead.take(applied)) {
    assert.equal(commit.previous, applied, `commit ${commit.revision} taken at ${applied}`)
    taken.push(commit.revision)
    applied = commit.revision
  }
  return { taken, applied }
}

test('ahead: any arrival order, with repeats, takes back the whole chain once, in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      fc.integer({ min: 1, max: 50 }),
      (steps, swaps, repeats, takeEvery) => {
        const chain = chainOf(steps)
        // Mostly in order: a few swaps and repeated deliveries, as a repair overlapping PUB makes.
        const arrivals = [...chain]
        for (const s of swaps) {
          const i = s % arrivals.length
          const j = Math.min(arrivals.length - 1, i + 1 + (s % 5))
          ;[arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!]
        }
        for (const r of repeats) arrivals.splice(r % (arrivals.length + 1), 0, chain[r % chain.length]!)
        const ahead = new AheadCommits()
        let applied = 0
        const taken: number[] = []
        arrivals.forEach((commit, i) => {
          if (commit.revision > applied) ahead.add(commit, applied)
          if (i % takeEvery === 0) {
            const round = drain(ahead, applied)
            taken.push(...round.taken)
            applied = round.applied
          }
        })
        const last = drain(ahead, applied)
        taken.push(...last.taken)
        assert.deepEqual(
          taken,
          chain.map((c) => c.revision),
        )
        assert.equal(ahead.size, 0)
        assert.equal(ahead.gapAfter(last.applied), false)
      },
    ),
    { numRuns: 300 },
  )
})

test('ahead: a missing commit is a gap, reported by what the first waiting commit follows', () => {
  const chain = chainOf([1, 1, 1, 1, 1, 1])
  const ahead = new AheadCommits()
  for (const commit of chain) if (commit.revision !== 3) ahead.add(commit, 0)
  const first = drain(ahead, 0)
  assert.deepEqual(first.taken, [1, 2])
  assert.equal(ahead.gapAfter(2), true)
  assert.equal(ahead.firstFollowed(), 3)
  ahead.add(chain[2]!, 2)
  assert.equal(ahead.gapAfter(2), false)
  assert.deepEqual(drain(ahead, 2).taken, [3, 4, 5, 6])
  assert.equal(ahead.firstFollowed(), undefined)
})

test('ahead: a replica that jumps into the chain (a snapshot) goes on from where it landed', () => {
  const chain = chainOf(Array.from({ length: 10 }, () => 2))
  const ahead = new AheadCommits()
  for (const commit of chain) ahead.add(commit, 0)
  // The snapshot lands at revision 8: commits up to it are dropped, the rest follow on.
  assert.deepEqual(drain(ahead, 8).taken, [10, 12, 14, 16, 18, 20])
  for (const commit of chain) ahead.add(commit, 0)
  ahead.dropUpTo(14)
  assert.equal(ahead.size, 3)
  assert.deepEqual(drain(ahead, 14).taken, [16, 18, 20])
})
