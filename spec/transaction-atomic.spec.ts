import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { ConflictError, ErrorCode, connect, isZStateError, type Client } from '../lib/index.ts'
import { join } from 'node:path'
import {
  clientFor,
  clientProcess,
  fixture,
  serverFor,
  stress,
  tempDir,
  transports,
  type Transport,
} from './support.ts'
import { bigMapVisits } from './map-visits.ts'

const k = stress ? 2_000 : 100
const repetitions = stress ? 5 : 2
const actions = new URL('./fixtures/actions.mjs', import.meta.url).href

async function workers(t: TestContext, address: string, n: number) {
  return Promise.all(Array.from({ length: n }, (_, i) => clientProcess(t, address, `worker-${i}`)))
}

// Clients typed loosely: these tests write many shapes of state.
async function inProcess(t: TestContext, transport: Transport = 'ipc'): Promise<[Client<any>, Client<any>]> {
  const server = await serverFor(t, transport, { actions })
  const a = await clientFor(server)
  const b = await clientFor(server)
  return [a, b]
}

for (const transport of transports) {
  for (const how of ['atomic', 'run', 'increment'] as const) {
    test(`atomic: 4 processes × ${k} increments with ${how} count exactly 4 × ${k}, every time (${transport})`, async (t) => {
      const server = await serverFor(t, transport, { actions })
      const procs = await workers(t, server.address, 4)
      const observer = await clientFor(server)
      for (let rep = 0; rep < repetitions; rep++) {
        const key = `count-${rep}`
        await Promise.all(procs.map((p) => p.call('incrementMany', how, key, k)))
        await observer.state.sync()
        assert.equal(observer.state.get(key), 4 * k)
      }
    })
  }
}

test('atomic: disjoint keys never conflict', async (t) => {
  const server = await serverFor(t, 'ipc')
  const procs = await workers(t, server.address, 4)
  const conflicts = await Promise.all(
    procs.map((p, i) => p.call<number>('incrementMany', 'atomic', `own-${i}`, k)),
  )
  assert.deepEqual(conflicts, [0, 0, 0, 0])
  const observer = await clientFor(server)
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => observer.state.get(`own-${i}`)),
    [k, k, k, k],
  )
})

test('atomic: the bank total holds and no balance goes negative in any revision', async (t) => {
  const server = await serverFor(t, 'ipc')
  const setup = await clientFor(server)
  const accounts = 10
  await setup.state.update(Object.fromEntries(Array.from({ length: accounts }, (_, i) => [`acct:${i}`, 100])))
  const auditor = await clientProcess(t, server.address, 'auditor')
  const checking = auditor.call<number>('checkBank', accounts, 100 * accounts, 'done')
  const procs = await workers(t, server.address, 4)
  const conflicts = await Promise.all(procs.map((p) => p.call<number>('transfers', accounts, k)))
  await setup.state.set('done', true)
  const checked = await checking
  assert.ok(checked >= 4 * k * 0.5, `the auditor saw ${checked} revisions`)
  t.diagnostic(`conflicts: ${conflicts.join(', ')}`)
})

test('atomic: reading an absent key conflicts with a concurrent insert (phantom)', async (t) => {
  const [a, b] = await inProcess(t)
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let runs = 0
  const tx = a.state.atomic(
    async (d: Record<string, unknown>) => {
      runs++
      const seen = d.slot
      if (runs === 1) await gate
      d.result = seen === undefined ? 'was empty' : 'was taken'
    },
    { retries: 0 },
  )
  await b.state.set('slot', 'taken')
  release()
  await assert.rejects(
    tx,
    (e: unknown) => isZStateError(e) && e instanceof ConflictError && e.keys.includes('slot'),
  )
  assert.equal(a.state.get('result'), undefined, 'nothing was written')
})

test('atomic: enumerating keys conflicts with any concurrent insert; retried, it sees it', async (t) => {
  const [a, b] = await inProcess(t)
  await a.state.set('x', 1)
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let runs = 0
  const tx = a.state.atomic(async (d: Record<string, unknown>) => {
    runs++
    const count = Object.keys(d).length
    if (runs === 1) await gate
    d.count = count
  })
  await b.state.set('unrelated', 2)
  release()
  await tx
  assert.equal(runs, 2)
  assert.equal(a.state.get('count'), 2)
  assert.equal(a.metrics().conflicts, 1)
})

test('atomic: a read-only transaction never sees an invariant between two keys broken', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor(server)
  const b = await clientFor<{ x: number; y: number }>(server)
  await a.state.update({ x: 50, y: 50 })
  await b.state.sync()
  let moving = true
  const mover = (async () => {
    for (let i = 0; moving; i++) await a.state.update({ x: 50 - (i % 50), y: 50 + (i % 50) })
  })()
  for (let i = 0; i < (stress ? 2_000 : 200); i++) {
    // Awaiting between the two reads lets newer commits arrive; fn still sees one revision.
    const sum = await b.state.atomic(async (d) => {
      const x = d.x!
      await new Promise((resolve) => setImmediate(resolve))
      return x + d.y!
    })
    assert.equal(sum, 100)
  }
  moving = false
  await mover
})

test('atomic: retries: 0 under contention is ERR_CONFLICT and writes nothing', async (t) => {
  const [a, b] = await inProcess(t)
  await a.state.set('n', 0)
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const tx = a.state.atomic(
    async (d: Record<string, number>) => {
      d.n = d.n! + 100
      d.other = 1
      await gate
    },
    { retries: 0 },
  )
  await b.state.increment('n')
  release()
  await assert.rejects(tx, (e: unknown) => isZStateError(e) && e.code === 'ERR_CONFLICT')
  await a.state.sync()
  assert.equal(a.state.get('n'), 1)
  assert.equal(a.state.has('other'), false)
})

test('atomic: linearizable read-only transactions validate their reads; plain ones send nothing', async (t) => {
  const [a, b] = await inProcess(t)
  await a.state.set('v', 1)
  const sent = a.metrics().messagesOut
  assert.equal(await a.state.atomic((d: Record<string, number>) => d.v), 1)
  assert.equal(a.metrics().messagesOut, sent, 'a read-only transaction sends nothing')
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let runs = 0
  const read = a.state.atomic(
    async (d: Record<string, number>) => {
      runs++
      const v = d.v
      if (runs === 1) await gate
      return v
    },
    { linearizable: true },
  )
  await b.state.set('v', 2)
  release()
  assert.equal(await read, 2)
  assert.equal(runs, 2)
})

test('atomic: fn errors pass through unchanged, nothing is sent, and the draft dies with the call', async (t) => {
  const [a] = await inProcess(t)
  const sent = a.metrics().messagesOut
  const mine = new Error('mine')
  let kept: Record<string, unknown> | undefined
  await assert.rejects(
    a.state.atomic((d: Record<string, unknown>) => {
      d.x = 1
      kept = d
      throw mine
    }),
    (e) => e === mine,
  )
  assert.equal(a.metrics().messagesOut, sent)
  assert.throws(
    () => kept!.x,
    (e: unknown) => isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT',
  )
  await assert.rejects(
    a.state.atomic((d: Record<string, unknown>) => void (d.x = () => 1)),
    (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE',
  )
  assert.equal(await a.state.sync(), 0)
})

test('atomic: changing one field of a 1 MB value sends and publishes well under 1 KB', async (t) => {
  const [a, b] = await inProcess(t)
  await a.state.set('doc', { title: 'draft', body: 'x'.repeat(1 << 20), tags: ['a'] })
  await b.state.sync()
  const [outBefore, inBefore] = [a.metrics().bytesOut, b.metrics().bytesIn]
  await a.state.atomic((d: Record<string, { title: string; tags: string[] }>) => {
    d.doc!.title = 'final'
    d.doc!.tags.push('b')
  })
  await b.state.whenEqual('doc', { title: 'final', body: 'x'.repeat(1 << 20), tags: ['a', 'b'] })
  assert.ok(a.metrics().bytesOut - outBefore < 1024, `sent ${a.metrics().bytesOut - outBefore} bytes`)
  assert.ok(b.metrics().bytesIn - inBefore < 1024, `received ${b.metrics().bytesIn - inBefore} bytes`)
  assert.ok(Object.isFrozen((b.state.get('doc') as { tags: string[] }).tags))
})

test('atomic: one-key transactions never walk the store, at 10 or 100,000 keys', async (t) => {
  const [a] = await inProcess(t)
  const transactions = async (): Promise<void> => {
    for (let i = 0; i < 200; i++)
      await a.state.atomic((d: Record<string, { n: number }>) => void (d.hot = { n: i }))
  }
  await a.state.update(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i])))
  assert.equal(await bigMapVisits(10, transactions), 0, '10 keys')
  for (let i = 0; i < 10; i++)
    await a.state.update(Object.fromEntries(Array.from({ length: 10_000 }, (_, j) => [`b${i}-${j}`, j])))
  assert.equal(a.state.size, 100_011)
  // An O(store) step in 200 transactions would visit 200 × 100,011 entries; not even one pass is allowed.
  assert.equal(await bigMapVisits(100_000, transactions), 0, '100,011 keys')
  assert.deepEqual(a.state.get('hot'), { n: 199 })
})

test('atomic: drafts nested in the result are finalised; enumerating does not read every value', async (t) => {
  const [a, b] = await inProcess(t)
  await a.state.update({ doc: { n: 1 }, other: { m: 2 } })
  const result = await a.state.atomic((d) => {
    d.doc.n = 2
    return { doc: d.doc, list: [d.other] }
  })
  assert.deepEqual(result, { doc: { n: 2 }, list: [{ m: 2 }] })
  // The draft of the state itself: the state as fn left it, a plain object that outlives the call.
  await a.state.set('gone', 1)
  const whole = await a.state.atomic((d) => {
    d.doc.n = 3
    delete d.gone
    d.added = true
    return [d]
  })
  assert.deepEqual(whole, [{ doc: { n: 3 }, other: { m: 2 }, added: true }])
  const scoped = await a.state.scope('do').atomic((d) => d)
  assert.deepEqual(JSON.parse(JSON.stringify(scoped)), { c: { n: 3 } }, 'a scope’s keys, unprefixed')
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let runs = 0
  const counting = a.state.atomic(async (d) => {
    runs++
    const count = Object.keys(d).length
    if (runs === 1) await gate
    d.count = count
  })
  await b.state.set('other', { m: 3 }) // a value change, not a key-space change
  release()
  await counting
  assert.equal(runs, 1, 'no conflict: only the key space was read')
})

test('atomic: a transaction from before a server restart never commits on the new server', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const first = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 50 })])
  await first.event(1)
  const a = await connect<any>(address)
  t.after(() => a.close())
  await a.state.set('count', 5)
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let runs = 0
  const tx = a.state.atomic(async (d) => {
    runs++
    const count = d.count ?? 0
    if (runs === 1) await gate
    d.count = count + 1
  })
  const events = a.status()[Symbol.asyncIterator]()
  first.child.kill('SIGKILL')
  assert.equal((await events.next()).value?.type, 'disconnected')
  const second = fixture(t, 'server', [JSON.stringify({ address, heartbeatMs: 50 })])
  await second.event(1)
  assert.equal((await events.next()).value?.type, 'reset')
  const b = await connect<any>(address)
  t.after(() => b.close())
  await b.state.set('count', 100)
  release()
  await tx
  await a.state.sync()
  assert.equal(a.state.get('count'), 101, 'the retry read the new server’s value')
})

test('atomic: fn is not run again once the client has begun to close', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await connect(server.address)
  const other = await clientFor(server)
  let runs = 0
  // Every attempt conflicts: another client writes the key between fn's read and its commit.
  const pending = client.state.atomic(
    async (d) => {
      runs++
      const seen = (d.k as number | undefined) ?? 0
      await other.state.set('k', seen + 100)
      d.k = seen + 1
    },
    { retries: 1000 },
  )
  const settled = pending.then(
    () => undefined,
    (error: unknown) => error,
  )
  // The moment the third conflict is counted (its re-run waits out a back-off), the client closes.
  const deadline = Date.now() + 30_000
  while (client.metrics().conflicts < 3) {
    assert.ok(Date.now() < deadline, 'three conflicts within 30 s')
    await new Promise((resolve) => setImmediate(resolve))
  }
  const runsAtClose = runs
  const closing = client.close()
  const error = await settled
  await closing
  assert.ok(isZStateError(error) && error.code === ErrorCode.CLOSED, `rejected with ${String(error)}`)
  assert.equal(runs, runsAtClose, 'no run after close() began')
})

// fn reads x, then waits for another client's write of x: every attempt conflicts, so only a timeout
// or the signal ends it (between attempts or in the back-off), and fn ran more than once.
test('atomic: timeout and signal end its re-runs of a transaction that keeps conflicting', async (t) => {
  const [a, b] = await inProcess(t)
  let runs = 0
  let n = 0
  const conflicting = async (draft: Record<string, number>) => {
    runs++
    const seen = draft['x']
    await b.state.set('x', n++)
    draft['x'] = (seen ?? 0) + 1
  }
  const timedOut = await a.state
    .atomic(conflicting, { timeout: 150, retries: 1_000_000 })
    .catch((error: unknown) => error)
  assert.ok(isZStateError(timedOut) && timedOut.code === ErrorCode.TIMEOUT, String(timedOut))
  assert.equal(timedOut.name, 'TimeoutError')
  assert.ok(runs > 1, `fn ran ${runs} times`)
  const stop = new AbortController()
  const reason = new Error('stopped by the caller')
  runs = 0
  const aborted = a.state.atomic(
    async (draft: Record<string, number>) => {
      await conflicting(draft)
      if (runs === 3) stop.abort(reason)
    },
    { signal: stop.signal, timeout: 60_000 },
  )
  await assert.rejects(aborted, (error) => error === reason)
  assert.equal(runs, 3)
  for (const timeout of [-1, '5', Number.NaN])
    await assert.rejects(
      a.state.atomic(() => 1, { timeout } as never),
      { code: ErrorCode.INVALID_ARGUMENT },
    )
})
