// atomic on a hot key: after a few conflicts a transaction waits its turn (lib/server/claims.ts), so
// no process starves; and the turns are the server's to give, whatever a raw peer sends.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ConflictError, ErrorCode } from '../lib/errors.ts'
import { ChangeKind, Op, Status } from '../lib/protocol/ops.ts'
import { rawSession, withFreshTurn } from './raw-session.ts'
import { until } from './process-support.ts'
import { serverStats } from '../lib/client/server-stats.ts'
import { abortable } from '../lib/abort.ts'
import { clientFor, clientProcess, fixture, serverFor, stress, type Fixture } from './support.ts'

const k = stress ? 2_000 : 300
const repetitions = stress ? 10 : 2

test(`atomic: 4 processes × ${k} increments of one key, each with only 8 re-runs, never run out of them`, async (t) => {
  const server = await serverFor(t, 'ipc')
  // Two full replicas and two partial ones (whose turns come by reply, after their pushes).
  const procs: Fixture[] = [
    await clientProcess(t, server.address, 'full-0'),
    await clientProcess(t, server.address, 'full-1'),
    ...(await Promise.all(
      [2, 3].map(async (i) => {
        const f = fixture(t, 'client', [
          server.address,
          `partial-${i}`,
          JSON.stringify({ replicate: ['count'] }),
        ])
        await f.event(1)
        return f
      }),
    )),
  ]
  const observer = await clientFor(server)
  let conflicts = 0
  for (let rep = 0; rep < repetitions; rep++) {
    const key = `count-${rep}`
    // Without turns, a process loses 9 races in a row here (ERR_CONFLICT after 8 re-runs).
    const counts = await Promise.all(procs.map((p) => p.call<number>('atomicIncrements', key, k, 8)))
    conflicts = Math.max(...counts)
    await observer.state.sync()
    assert.equal(observer.state.get(key), 4 * k)
  }
  assert.ok(conflicts > 0, 'the processes did contend for the key')
})

test('contention: a granted turn nobody uses holds writers back, then lapses; its late write conflicts', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (raw, key) => {
    // While the turn holds, a transaction that may not queue is refused at once.
    await assert.rejects(
      client.state.atomic((d: any) => void (d[key] += 1), { retries: 0 }),
      ConflictError,
    )
    // Others queue behind it once they conflicted 6 times, until it lapses, and then commit.
    for (let i = 0; i < 20; i++) await client.state.atomic((d: any) => void (d[key] += 1))
    assert.equal(client.state.get(key), 20)
    // The lapsed claim is no claim: its stale write conflicts.
    await raw.txn(3, raw.revision, -1, false, 2)
    const [, status, code] = await raw.reply(3)
    assert.deepEqual([status, code], [Status.ERROR, ErrorCode.CONFLICT])
    assert.equal((await client.state.sync(), client.state.get(key)), 20)
  })
})

test('contention: a writer that never queues (retries: 0) is held back by a silent turn only for a while', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (_a, key) => {
    const write = () => client.state.atomic((d: any) => void (d[key] = 42), { retries: 0 })
    await assert.rejects(write(), ConflictError, 'the turn holds it back')
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await write()
        break
      } catch (error) {
        if (!(error instanceof ConflictError) || Date.now() > deadline) throw error
      }
    }
    assert.equal(client.state.get(key), 42)
  })
})

test('contention: a turn the client does not use (fn threw) is given up at once', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (h, key) => {
    // The client's transaction is held back by h's turn until it queues behind it; h then writes
    // the key, so the client's turn comes as a grant, and fn, run again, throws.
    const refused = new Error('fn gives up')
    const call = client.state.atomic((d: any) => {
      if (d[key] === 'h') throw refused
      d[key] = 'client'
    })
    // (If h's turn lapsed first, the client committed: a late round, run again.)
    let settled = false
    void call.then(
      () => (settled = true),
      () => (settled = true),
    )
    await until(
      async () => settled || (await serverStats(client)).turns.waiting === 1,
      'the client waits its turn',
      10_000,
      1,
    )
    await h.txn(3, h.revision, 'h', false, 2)
    await assert.rejects(call, (error) => error === refused)
    // Nothing holds the key: a write that may not queue commits at once.
    const w = await rawSession(t, server.address, ['elsewhere/'], key)
    await w.txn(2, client.state.revision, 'w', false)
    assert.equal((await w.reply(2))[1], Status.OK)
  })
})

test('contention: a session cannot use, nor release, the claim of another', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (a, key) => {
    // A partial session: whatever happens, it gets a reply.
    const b = await rawSession(t, server.address, ['elsewhere/'], key)
    // b names a's claim: it is still held back (it writes a claimed key), and a's claim stands.
    await b.txn(2, a.revision, 666, false, 2)
    const [, status, code, , keys] = await b.reply(2)
    assert.deepEqual([status, code, keys], [Status.ERROR, ErrorCode.CONFLICT, [key]])
    await b.release(3, a.revision, 2)
    await b.reply(3)
    await b.txn(4, a.revision, 667, false)
    assert.equal((await b.reply(4))[2], ErrorCode.CONFLICT, 'a still holds the key')
    // a uses its turn: its write commits.
    await a.txn(3, a.revision, 7, false, 2)
    await client.state.when(key, (v) => v === 7)
  })
})

test('contention: one claim per session; a release or the end of a session gives the next its turn', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (a, key) => {
    // A partial session: it gets replies for its commits.
    const b = await rawSession(t, server.address, ['elsewhere/'], key)
    await b.txn(2, a.revision, 5, true) // waits behind a
    await b.txn(3, a.revision, 6, true) // b has a claim already: ERR_CONFLICT at once
    assert.equal((await b.reply(3))[2], ErrorCode.CONFLICT)
    await a.release(3, a.revision, 2)
    assert.deepEqual((await a.reply(3)).slice(1), [Status.OK, 0], 'released: a read-only transaction')
    // b's turn: nothing changed since its base, so its transaction commits as it was.
    const [, status, revision] = await b.reply(2)
    assert.equal(status, Status.OK)
    assert.ok((revision as number) > a.revision)
    await client.state.when(key, (v) => v === 5)
  })
  await withFreshTurn(t, server, client, async (d, key) => {
    // c waits behind d's turn; d's session ends: c's turn comes, and its write commits.
    const c = await rawSession(t, server.address, ['elsewhere/'], key)
    await c.txn(2, d.revision, 8, true)
    await c.send([3, Op.PING])
    await c.reply(3) // in line by now
    await d.send([9, Op.BYE])
    assert.equal((await c.reply(2))[1], Status.OK)
    await client.state.when(key, (v) => v === 8)
  })
})

test('contention: one claim of every key at most is in line; other sessions that enumerated the keys race', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await client.state.update({ k: 0, mine: 0 })
  // Stale whole-state transactions that ask to queue, from sessions of their own (partial: every
  // outcome is a reply). Left unused, each such claim would hold every writer back for 50 ms. The
  // sessions are opened first, and the others ask right after the first: a granted claim unused for
  // 50 ms lapses, and the next one asking would then be granted in its turn.
  type Session = Awaited<ReturnType<typeof rawSession>>
  const sessions: Session[] = []
  for (let s = 0; s < 5; s++) sessions.push(await rawSession(t, server.address, ['elsewhere/'], 'k'))
  const ask = (raw: Session, s: number) =>
    raw.send([2, Op.TXN, raw.epoch, 0, [], true, [['k', ChangeKind.SET, s]], true, 0])
  const outcome = async (raw: Session) => {
    const [, status, code] = await raw.reply(2)
    return status === Status.OK ? 'granted' : String(code)
  }
  await ask(sessions[0]!, 0)
  const outcomes = [await outcome(sessions[0]!)]
  for (let s = 1; s < sessions.length; s++) await ask(sessions[s]!, s)
  for (const raw of sessions.slice(1)) outcomes.push(await outcome(raw))
  assert.deepEqual(outcomes, ['granted', ...Array(4).fill(ErrorCode.CONFLICT)])
  // A writer of another key waits for that one claim at most.
  await client.state.atomic((d: any) => void (d.mine += 1))
  assert.equal(client.state.get('mine'), 1)
})

test('contention: a holder whose re-run writes a key another holds waits in line, and commits when it is free', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (c, key) => {
    // a holds `other`; c holds `key`.
    const other = `${key}-other`
    await client.state.set(other, 0)
    const a = await rawSession(t, server.address, ['elsewhere/'], other)
    await a.txn(2, 0, -1, true)
    assert.deepEqual((await a.reply(2)).slice(1, 3), [Status.OK, 0], 'a holds its turn')
    // a's function, run again, writes both: c's turn holds it back, so a waits in line.
    const base = client.state.revision
    const writes = [other, key].map((k) => [k, ChangeKind.SET, 'a'])
    await a.send([3, Op.TXN, a.epoch, base, [other, key], false, writes, true, 2])
    await a.send([4, Op.PING])
    await a.reply(4)
    assert.equal(a.replies.get(3), undefined, 'a waits')
    // c's turn ends: a's transaction commits as it was (nothing it read changed).
    await c.release(3, c.revision, 2)
    await c.reply(3)
    assert.equal((await a.reply(3))[1], Status.OK)
    await client.state.when(key, (v) => v === 'a')
    assert.equal(client.state.get(other), 'a')
  })
})

test('contention: turns are granted in order of arrival, 20 transactions waiting on one key', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (a, key) => {
    // Each waits behind a's turn, in this order; its base is stale, so its turn is a grant.
    const waiting = []
    for (let i = 0; i < 20; i++) {
      const raw = await rawSession(t, server.address, ['elsewhere/'], key)
      await raw.txn(2, 0, i, true)
      await raw.send([3, Op.PING])
      await raw.reply(3) // in line by now
      waiting.push(raw)
    }
    await a.release(3, a.revision, 2)
    // Each commits its number under its turn as soon as it comes: the commits show the order.
    const revisions = await Promise.all(
      waiting.map(async (raw, i) => {
        const [, status, zero, from, claim] = await raw.reply(2)
        assert.deepEqual([status, zero, claim], [Status.OK, 0, 2], `session ${i} is granted its turn`)
        await raw.txn(4, from as number, i, false, 2)
        const [, committed, revision] = await raw.reply(4)
        assert.equal(committed, Status.OK)
        return revision as number
      }),
    )
    assert.deepEqual(
      revisions,
      [...revisions].sort((x, y) => x - y),
      'committed in the order they queued',
    )
  })
})

test('contention: a session that queues again after its turn waits behind one that had no turn yet', async (t) => {
  // Sessions cost nothing to open: were turns given in order of arrival only, sessions that queue
  // again after each turn would keep a line on a key that a newcomer waits through, a turn of each.
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await withFreshTurn(t, server, client, async (a, key) => {
    const b = await rawSession(t, server.address, ['elsewhere/'], key)
    await b.txn(2, 0, 'b', true)
    await b.send([3, Op.PING])
    await b.reply(3) // in line behind a's turn
    // a's stale transaction under its claim queues again: its turn ends, b's comes.
    await a.txn(4, 0, 'a', true, 2)
    const [, status, zero, from, claim] = await b.reply(2)
    assert.deepEqual([status, zero, claim], [Status.OK, 0, 2], 'b is granted its turn')
    // c asks after a queued again, and had no turn yet: c goes first.
    const c = await rawSession(t, server.address, ['elsewhere/'], key)
    await c.txn(2, 0, 'c', true)
    await c.send([3, Op.PING])
    await c.reply(3)
    await b.txn(5, from as number, 'b', false, 2)
    assert.equal((await b.reply(5))[1], Status.OK, 'b commits under its turn')
    assert.deepEqual((await c.reply(2)).slice(1, 3), [Status.OK, 0], 'c is granted its turn')
    await a.send([6, Op.PING])
    await a.reply(6)
    assert.equal(a.replies.get(4), undefined, 'a still waits')
  })
})

test('contention: a malformed queue flag or claim is ERR_PROTOCOL, and commits nothing', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await client.state.set('k', 0)
  const raw = await rawSession(t, server.address)
  const base = client.state.revision
  const write = [['k', ChangeKind.SET, 1]]
  const bad = [
    [raw.epoch, base, ['k'], false, write, 'yes', 0],
    [raw.epoch, base, ['k'], false, write, true, -1],
    [raw.epoch, base, ['k'], false, write, true, 1.5],
    [raw.epoch, base, ['k'], false, write, true],
  ]
  for (const [i, args] of bad.entries()) {
    await raw.send([10 + i, Op.TXN, ...args])
    const [, status, code] = await raw.reply(10 + i)
    assert.deepEqual([status, code], [Status.ERROR, ErrorCode.PROTOCOL], JSON.stringify(args))
  }
  assert.equal((await client.state.sync(), client.state.get('k')), 0)
})

// A raw session's transaction in the property below: on 1 or 2 of 3 keys, read-only or writing them,
// from a current or a stale base, queuing or not, naming no claim or any request id as its claim.
const rawTransaction = fc.record({
  keys: fc.subarray(['a', 'b', 'c'], { minLength: 1, maxLength: 2 }),
  write: fc.boolean(),
  stale: fc.boolean(),
  queue: fc.boolean(),
  held: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 20 })),
})

test('contention: whatever raw sessions send, every transaction is answered exactly once and no key stays held', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  await client.state.update({ a: 0, b: 0, c: 0 })
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(rawTransaction, { minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 3 }),
      async (plans) => {
        const base = client.state.revision
        // Partial sessions: every outcome, a commit too, is a reply.
        const sessions = await Promise.all(plans.map(() => rawSession(t, server.address, ['elsewhere/'])))
        await Promise.all(
          plans.map(async (plan, s) => {
            const raw = sessions[s]!
            // All in flight at once, so the server interleaves the sessions' requests as it likes.
            for (const [i, { keys, write, stale, queue, held }] of plan.entries()) {
              const writes = write ? keys.map((key) => [key, ChangeKind.SET, i]) : []
              await raw.send([i + 2, Op.TXN, raw.epoch, stale ? 0 : base, keys, false, writes, queue, held])
            }
            for (let i = 0; i < plan.length; i++)
              await within(raw.reply(i + 2), `request ${i + 2} of session ${s}`)
            // Anything answered twice would have arrived before this later reply.
            await raw.send([99, Op.PING])
            await raw.reply(99)
            for (let i = 0; i < plan.length; i++) assert.equal(raw.replies.get(i + 2), 1, `request ${i + 2}`)
            await raw.send([100, Op.BYE])
            await raw.reply(100)
          }),
        )
        // No claim outlives its session: a transaction that never queues gets through at once.
        await client.state.atomic((d: any) => void (d.a += 1), { retries: 0 })
      },
    ),
    { numRuns: stress ? 300 : 25 },
  )
})

// A reply that does not come within 10 s fails the test, naming the request.
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  const timeout = AbortSignal.timeout(10_000)
  return abortable(promise, timeout).catch((error: unknown) => {
    throw timeout.aborted ? new Error(`${what} got no reply within 10 s`) : error
  })
}
