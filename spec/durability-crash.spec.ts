// The crash loop (docs/durability.md): a `zstate serve --data-dir D --fsync always` killed with
// SIGKILL at random moments under three writers, and started again on the same dir and address,
// loses no acknowledged write, continues the revisions, and keeps its epoch: a client that stayed
// connected only ever sees `reconnected`, never `reset`.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { connect, type StatusEvent } from '../lib/index.ts'
import { assertBuilt, killAll, serve } from './fixtures/cli-run.ts'
import { stressFor } from './process-support.ts'
import { fixture, tempDir, type Fixture } from './support.ts'

before(assertBuilt)
after(killAll)

const ROUNDS = stressFor(5, 100)
const WRITERS = 3

type Acked = [key: string, value: number, revision: number][]

void test('durability: SIGKILL of the server at random moments loses no acknowledged write', async (t) => {
  const dir = join(tempDir(t), 'data')
  const address = `ipc://${join(tempDir(t), 'state')}`
  const args = ['--address', address, '--data-dir', dir, '--fsync', 'always']
  let { server } = await serve(args)
  const first = await connect(address, { name: 'observer' })
  t.after(() => first.close())
  const statuses: StatusEvent['type'][] = []
  let wake = (): void => {}
  void (async () => {
    for await (const { type } of first.status()) {
      statuses.push(type)
      wake()
    }
  })()
  // Until the observer has come back `n` times (or was reset, which fails the test below).
  const observerBack = async (n: number): Promise<void> => {
    while (statuses.filter((type) => type === 'reconnected' || type === 'reset').length < n)
      await new Promise<void>((resolve) => (wake = resolve))
  }

  const writers: Fixture[] = []
  for (let w = 0; w < WRITERS; w++) {
    const writer = fixture(t, 'durable-writer', [address, `w${w}`])
    await writer.event(1) // ready
    writers.push(writer)
  }
  // Each writer reports every 10th acknowledged write as an event (after the first, 'ready').
  const reported = writers.map(() => 1)
  const progress = async (events: number): Promise<void> => {
    await Promise.all(
      writers.map(async (writer, i) => {
        reported[i]! += events
        const event = await writer.event(reported[i]!)
        if (typeof event === 'object' && event !== null) assert.fail(`writer w${i}: ${JSON.stringify(event)}`)
      }),
    )
  }
  await Promise.all(writers.map((writer) => writer.call('run')))
  for (let round = 0; round < ROUNDS; round++) {
    // A random moment: after 1 to 5 more reports of each writer.
    await progress(1 + Math.floor(Math.random() * 5))
    assert.deepEqual(await server.signal('SIGKILL'), { code: null, signal: 'SIGKILL' })
    ;({ server } = await serve(args))
    await Promise.all([progress(1), observerBack(round + 1)])
  }
  const acked = await Promise.all(writers.map((writer) => writer.call<Acked>('stop')))

  const fresh = await connect(address, { name: 'checker' })
  t.after(() => fresh.close())
  await first.state.sync()
  let highest = 0
  for (const [key, value, revision] of acked.flat()) {
    assert.equal(fresh.state.get(key), value, `acknowledged write ${key} = ${value}`)
    highest = Math.max(highest, revision)
  }
  assert.ok(fresh.state.revision >= highest, `revisions continue (${fresh.state.revision} ≥ ${highest})`)
  assert.equal(first.state.revision, fresh.state.revision)
  assert.deepEqual({ ...first.state.snapshot() }, { ...fresh.state.snapshot() })
  assert.equal(statuses.filter((type) => type === 'reconnected').length, ROUNDS, statuses.join(' '))
  assert.ok(!statuses.includes('reset'), `no reset: ${statuses.join(' ')}`)
  assert.deepEqual(await server.signal('SIGTERM'), { code: 0, signal: null })
})
