// The crash loop (docs/durability.md): a `zstate serve --data-dir D` killed with SIGKILL at random
// moments under three writers, and started again on the same dir and address, loses no acknowledged
// write and continues the revisions; under fsync 'always' it keeps its epoch, so a client that stayed
// connected only ever sees `reconnected`, never `reset`.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test, type TestContext } from 'node:test'
import { connect, type Client, type StatusEvent } from '../lib/index.ts'
import { assertBuilt, killAll, serve } from './fixtures/cli-run.ts'
import { stressFor, until } from './process-support.ts'
import { fixture, tempDir, type Fixture } from './support.ts'

before(assertBuilt)
after(killAll)

const ROUNDS = stressFor(5, 100)
const WRITERS = 3

type Acked = (readonly [key: string, value: number, revision: number])[]

interface Outcome {
  acked: Acked
  statuses: StatusEvent['type'][]
  observer: Client
  checker: Client
}

// Three writers write through `rounds` SIGKILLs of `zstate serve --data-dir D --fsync <fsync>`, each
// followed by a restart on the same dir and address; then a fresh client joins.
async function crashLoop(t: TestContext, fsync: string, rounds: number): Promise<Outcome> {
  const dir = join(tempDir(t), 'data')
  const address = `ipc://${join(tempDir(t), 'state')}`
  const args = ['--address', address, '--data-dir', dir, '--fsync', fsync]
  let { server } = await serve(args)
  const observer = await connect(address, { name: 'observer' })
  t.after(() => observer.close())
  const statuses: StatusEvent['type'][] = []
  let wake = (): void => {}
  void (async () => {
    for await (const { type } of observer.status()) {
      statuses.push(type)
      wake()
    }
  })()
  // Until the observer has come back `n` times.
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
  for (let round = 0; round < rounds; round++) {
    // A random moment: after 1 to 5 more reports of each writer.
    await progress(1 + Math.floor(Math.random() * 5))
    assert.deepEqual(await server.signal('SIGKILL'), { code: null, signal: 'SIGKILL' })
    ;({ server } = await serve(args))
    await Promise.all([progress(1), observerBack(round + 1)])
  }
  const acked = (await Promise.all(writers.map((writer) => writer.call<Acked>('stop')))).flat()
  const checker = await connect(address, { name: 'checker' })
  t.after(() => checker.close())
  await observer.state.sync()
  t.after(async () => assert.deepEqual(await server.signal('SIGTERM'), { code: 0, signal: null }))
  return { acked, statuses, observer, checker }
}

// Every acknowledged write is there with its value, revisions went on, and the client that stayed
// connected holds what a fresh one does.
function assertNothingLost({ acked, observer, checker }: Outcome): void {
  let highest = 0
  for (const [key, value, revision] of acked) {
    assert.equal(checker.state.get(key), value, `acknowledged write ${key} = ${value}`)
    highest = Math.max(highest, revision)
  }
  assert.ok(checker.state.revision >= highest, `revisions continue (${checker.state.revision} ≥ ${highest})`)
  assert.equal(observer.state.revision, checker.state.revision)
  assert.deepEqual({ ...observer.state.snapshot() }, { ...checker.state.snapshot() })
}

void test('durability: SIGKILL of the server at random moments loses no acknowledged write (fsync always)', async (t) => {
  const outcome = await crashLoop(t, 'always', ROUNDS)
  assertNothingLost(outcome)
  const { statuses } = outcome
  assert.equal(statuses.filter((type) => type === 'reconnected').length, ROUNDS, statuses.join(' '))
  assert.ok(!statuses.includes('reset'), `no reset: ${statuses.join(' ')}`)
})

// A process crash loses nothing under any policy (the page cache survives it); 'interval' only
// promises less for a crash of the machine, and starts a new epoch, so clients reset.
void test('durability: SIGKILL under fsync interval loses no acknowledged write; clients reset to a new epoch', async (t) => {
  const rounds = stressFor(2, 20)
  const outcome = await crashLoop(t, 'interval', rounds)
  assertNothingLost(outcome)
  assert.equal(outcome.statuses.filter((type) => type === 'reset').length, rounds, outcome.statuses.join(' '))
})

// Whether clients may resume after a crash depends on how the crashed server synced, not on the
// policy of the one started after it.
for (const [crashed, restarted, reset] of [
  ['interval', 'always', true],
  ['always', 'interval', false],
] as const) {
  void test(`durability: a crash under fsync ${crashed}, restarted under ${restarted}, ${reset ? 'starts a new epoch (reset)' : 'keeps the epoch (no reset)'}`, async (t) => {
    const dir = join(tempDir(t), 'data')
    const address = `ipc://${join(tempDir(t), 'state')}`
    const args = (fsync: string): string[] => ['--address', address, '--data-dir', dir, '--fsync', fsync]
    let { server } = await serve(args(crashed))
    const client = await connect(address, { name: 'stays connected' })
    t.after(() => client.close())
    const statuses: StatusEvent['type'][] = []
    void (async () => {
      for await (const { type } of client.status()) statuses.push(type)
    })()
    for (let i = 1; i <= 20; i++) await client.state.set('k', i)
    assert.deepEqual(await server.signal('SIGKILL'), { code: null, signal: 'SIGKILL' })
    ;({ server } = await serve(args(restarted)))
    t.after(async () => assert.deepEqual(await server.signal('SIGTERM'), { code: 0, signal: null }))
    await until(() => statuses.includes('reconnected') || statuses.includes('reset'), 'the client is back')
    assert.equal(statuses.includes('reset'), reset, `status events: ${statuses.join(', ')}`)
    assert.equal(await client.state.set('after', 1), client.state.revision)
    assert.equal(client.state.get('k'), 20)
  })
}
