// Calls from one client commit in the order they were issued, an atomic among them (docs/state.md,
// Order): its attempts may be several, and the writes issued once it has sent its first wait for it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Client } from '../lib/index.ts'
import { clientFor, serverFor, stress } from './support.ts'

const rounds = stress ? 200 : 20

// The values `key` took, in revision order, as this client's replica applied them.
function recorder(state: Client<any>['state'], key: string): { seen: unknown[]; stop: () => void } {
  const seen: unknown[] = []
  const stop = state.subscribe(({ changes }) => {
    for (const change of changes) if (change.key === key) seen.push(change.value)
  })
  return { seen, stop }
}

test('write order: a set issued after a synchronous atomic commits after it', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor<any>(server)
  for (let round = 0; round < rounds; round++) {
    const key = `k${round}`
    const { seen, stop } = recorder(a.state, key)
    const atomic = a.state.atomic((d: any) => {
      d[key] = 'atomic'
    })
    const set = a.state.set(key, 'set')
    const counted = a.state.increment(`${key}/n`)
    await Promise.all([atomic, set, counted])
    stop()
    assert.deepEqual(seen, ['atomic', 'set'])
    assert.equal(a.state.get(key), 'set')
  }
})

test('write order: writes issued after an atomic conflicted commit after its re-run, in the order issued', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor<any>(server)
  const b = await clientFor<any>(server)
  for (let round = 0; round < rounds; round++) {
    const key = `c${round}`
    await a.state.set(key, 0)
    const { seen, stop } = recorder(a.state, key)
    const conflictsBefore = a.metrics().conflicts
    let first = true
    let resume!: () => void
    const paused = new Promise<void>((resolve) => (resume = resolve))
    let fnRan!: () => void
    const ran = new Promise<void>((resolve) => (fnRan = resolve))
    const atomic = a.state.atomic(async (d: any) => {
      const value = d[key]
      if (first) {
        first = false
        fnRan()
        await paused // meanwhile b changes the key: this attempt conflicts
      }
      d[key] = value + 1
    })
    await ran
    await b.state.set(key, 100)
    await a.state.sync()
    resume()
    // A macrotask later, the first attempt has been sent (fn's continuation is a microtask).
    await new Promise((resolve) => setImmediate(resolve))
    const later = [a.state.set(key, 'later'), a.state.atomic((d: any) => void (d[key] = `${d[key]}!`))]
    await Promise.all([atomic, ...later])
    stop()
    assert.ok(a.metrics().conflicts > conflictsBefore, 'the first attempt conflicted')
    assert.deepEqual(seen, [100, 101, 'later', 'later!'])
  }
})

test('write order: an atomic issued while another holds the order runs on what that one committed', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor<any>(server)
  for (let round = 0; round < rounds; round++) {
    const key = `s${round}`
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        a.state.atomic((d: any) => {
          d[key] = `${d[key] ?? ''}${i}`
          return d[key]
        }),
      ),
    )
    assert.deepEqual(results, ['0', '01', '012', '0123', '01234'])
  }
})

test('write order: writes that a first run of fn awaits go at once (no wait for itself)', async (t) => {
  const server = await serverFor(t, 'ipc')
  const a = await clientFor<any>(server)
  const result = await a.state.atomic(async (d: any) => {
    await a.state.set('outside', 1)
    d.inside = a.state.get('outside') + 1
    return d.inside
  })
  assert.equal(result, 2)
  assert.equal(a.state.get('inside'), 2)
})
