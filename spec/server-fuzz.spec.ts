import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import fc from 'fast-check'
import { Dealer } from 'zeromq'
import type { Client } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION } from '../lib/protocol/ops.ts'
import { clientFor, serverFor, stress } from './support.ts'
import { fromParts } from '../lib/protocol/parts.ts'

// Whole frames of valid-looking requests of every op, as a client speaking the protocol by hand
// could send them: right shapes with wrong, borderline or conflicting contents. Whatever arrives,
// the server stays up, every committed revision follows the one before, and every replica ends up
// equal to a fresh one.

const TOKEN = 'aaaaaaaaaaaaaaaa'
const FRAMES = stress ? 10_000 : 500
const CODES = new Set([
  'ERR_PROTOCOL',
  'ERR_INVALID_ARGUMENT',
  'ERR_TOO_LARGE',
  'ERR_UNENCODABLE',
  'ERR_COMPACTED',
  'ERR_CONFLICT',
  'ERR_DISCONNECTED',
  'ERR_NO_PROVIDER',
  'ERR_OVERFLOW',
  'ERR_TIMEOUT',
  'ERR_REMOTE',
])

function requests(epoch: string, victimPid: number) {
  const key = fc.constantFrom('a', 'b', 'c', 'n', 'list', 'obj', 'ns/x', 'ns/y')
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.constant([1, 2, 3]),
    fc.anything({ maxDepth: 2 }),
  )
  const revision = fc.oneof(fc.nat({ max: 3000 }), fc.constant(-1), fc.double())
  const path = fc.array(fc.oneof(fc.constantFrom('a', 'x', '__proto__'), fc.nat({ max: 5 })), {
    minLength: 1,
    maxLength: 3,
  })
  const patch = fc.oneof(fc.tuple(fc.constantFrom(0, 1), path, value), fc.tuple(fc.constant(2), path))
  const write = fc.oneof(
    fc.tuple(key, fc.constant(0), value),
    fc.tuple(key, fc.constant(1), fc.array(patch, { minLength: 1, maxLength: 3 })),
    fc.tuple(key, fc.constant(2)),
  )
  const name = fc.constantFrom('svc', 'math', 'x'.repeat(5))
  const pid = fc.oneof(fc.constant(victimPid), fc.constant(1), fc.constant(process.pid), fc.nat())
  const contextId = fc.constantFrom('0123456789abcdef', 'feedfacefeedface', 'zz')
  const id = fc.integer({ min: 1, max: 2 ** 31 })
  const ops: fc.Arbitrary<unknown[]>[] = [
    fc.tuple(fc.constant(Op.HELLO), fc.constant(PROTOCOL_VERSION), fc.constant(TOKEN), pid, fc.string()),
    fc.tuple(fc.constant(Op.ECHO), fc.constantFrom(TOKEN, 'nothex')),
    fc.tuple(fc.constant(Op.SNAPSHOT), fc.oneof(fc.constant(null), fc.nat({ max: 5 }))),
    fc.tuple(fc.constant(Op.HISTORY), revision, revision),
    fc.tuple(fc.constant(Op.SYNC)),
    fc.tuple(fc.constant(Op.SET), key, value),
    fc.tuple(fc.constant(Op.DELETE), key),
    fc.tuple(fc.constant(Op.UPDATE), fc.array(fc.tuple(key, value), { maxLength: 4 })),
    fc.tuple(fc.constant(Op.CLEAR), fc.constantFrom('', 'ns/', 'zzz')),
    fc.tuple(fc.constant(Op.INCREMENT), key, fc.oneof(fc.integer(), fc.bigInt({ min: -5n, max: 5n }), value)),
    fc.tuple(fc.constant(Op.CAS), key, fc.boolean(), value, value),
    fc.tuple(fc.constant(Op.INFO)),
    fc.tuple(fc.constant(Op.PING)),
    fc.tuple(
      fc.constant(Op.TXN),
      fc.constantFrom(epoch, 'other'),
      revision,
      fc.array(key, { maxLength: 3 }),
      fc.boolean(),
      fc.array(write, { maxLength: 3 }),
    ),
    fc.tuple(
      fc.constant(Op.RUN),
      fc.constantFrom('increment', 'transfer', 'tag', 'fails', 'touch', 'nope', 'toString'),
      fc.array(fc.oneof(key, value), { maxLength: 3 }),
    ),
    fc.tuple(
      fc.constant(Op.PROVIDE),
      name,
      fc.array(fc.constantFrom('add', 'echo')),
      fc.nat({ max: 4 }),
      fc.nat({ max: 3 }),
    ),
    fc.tuple(fc.constant(Op.WITHDRAW), fc.nat({ max: 3 })),
    fc.tuple(
      fc.constant(Op.CALL),
      name,
      fc.constantFrom('add', 'echo', 'none'),
      fc.array(value, { maxLength: 2 }),
      fc.constantFrom(0, 10, 50),
    ),
    fc.tuple(fc.constant(Op.SERVICES)),
    fc.tuple(fc.constant(Op.AWAIT_SERVICE), name, fc.nat({ max: 3 })),
    fc.tuple(fc.constant(Op.PUBLISH), fc.constantFrom('t', 'topic/a'), value),
    fc.tuple(fc.constant(Op.TOPIC_ECHO), fc.constant(TOKEN)),
    fc.tuple(fc.constant(Op.CONTEXT_OPEN), contextId, fc.string(), pid, fc.constant(null), fc.string()),
    fc.tuple(
      fc.constant(Op.CHILD),
      contextId,
      fc.string(),
      pid,
      fc.constant(null),
      fc.string(),
      fc.constantFrom('starting', 'running', 'exited'),
      fc.nat(),
    ),
    fc.tuple(fc.constant(Op.CONTEXT_CLOSE), contextId, fc.boolean()),
    fc.tuple(fc.constant(Op.PROCESSES)),
    fc.tuple(fc.constant(Op.STATS)),
    fc.tuple(fc.constantFrom(Op.BYE, 99)),
  ]
  const request = fc.tuple(id, fc.oneof(...ops)).map(([requestId, [op, ...args]]) => [requestId, op, ...args])
  const noReply = fc
    .tuple(
      fc.constant(0),
      fc.oneof(fc.constant(Op.RESULT), fc.constant(Op.CANCEL)),
      fc.nat(),
      fc.constantFrom(0, 1),
      value,
    )
    .map((r) => [...r])
  return fc.array(fc.oneof({ weight: 9, arbitrary: request }, { weight: 1, arbitrary: noReply }), {
    minLength: 1,
    maxLength: 20,
  })
}

// Checks every revision a client applies follows the one before, with no reset.
function recordRevisions(client: Client): { problems: string[] } {
  const problems: string[] = []
  let last = client.state.revision
  client.state.subscribe((event) => {
    if (event.reset === true) problems.push(`reset at ${event.revision}`)
    else if (event.revision !== last + 1) problems.push(`revision ${event.revision} after ${last}`)
    last = event.revision
  })
  return { problems }
}

test('fuzz: frames of valid-looking requests of every op keep the server up and every replica equal', async (t) => {
  const server = await serverFor(t, 'ipc', {
    actions: new URL('./fixtures/actions.mjs', import.meta.url),
    heartbeatMs: 100,
  })
  // A process nobody but this test owns: no request may make anything signal it.
  const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.after(() => victim.kill('SIGKILL'))
  const watcher = await clientFor(server)
  const order = recordRevisions(watcher)
  await watcher.state.update({ n: 0, list: [1, 2], obj: { a: 1, tags: [] } })

  const peer = new Dealer({ linger: 0 })
  t.after(() => peer.close())
  peer.connect(server.address)
  const malformed: string[] = []
  let replies = 0
  // Each frame opens with a HELLO of its own id; the next frame goes once its reply is back, so a
  // flood of unread replies never gets the peer forgotten and every frame is answered.
  const HELLO_ID = 2 ** 31 + 1
  let hellos = 0
  let helloArrived = (): void => {}
  const outcomes = new Map<string, number>()
  const reading = (async () => {
    for (;;) {
      let frame: Buffer
      try {
        frame = fromParts(await peer.receive(), 0)!
      } catch {
        return
      }
      for (const reply of decode(frame) as unknown[][]) {
        replies++
        if (reply[0] === HELLO_ID) {
          hellos++
          helloArrived()
        }
        const outcome = reply[0] === 0 ? 'push' : reply[1] === 0 ? 'ok' : String(reply[2])
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
        const push = reply[0] === 0 && (reply[1] === 1 || reply[1] === 2) // a CALL or DROPPED push
        const ok = push || reply[1] === 0 || (reply[1] === 1 && CODES.has(reply[2] as string))
        if (!Array.isArray(reply) || typeof reply[0] !== 'number' || !ok)
          malformed.push(JSON.stringify(reply).slice(0, 200))
      }
    }
  })()
  const hello = [HELLO_ID, Op.HELLO, PROTOCOL_VERSION, TOKEN, 1, 'fuzz']
  const answered = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`frame ${count}: no HELLO reply in 15 s`)), 15_000)
      helloArrived = () => {
        if (hellos < count) return
        clearTimeout(timer)
        resolve()
      }
      helloArrived()
    })
  const frames = fc.sample(requests(server.epoch, victim.pid!), {
    numRuns: FRAMES,
    seed: Number(process.env.SEED ?? 42),
  })
  for (const [i, frame] of frames.entries()) {
    await peer.send(encode([hello, ...frame]))
    await answered(i + 1)
  }
  await peer.send(encode([hello, [0, Op.SET, 'fuzz:done', true]]))
  await answered(FRAMES + 1)
  await watcher.state.whenAvailable('fuzz:done', { timeout: 60_000 })
  peer.close()
  await reading

  assert.deepEqual(malformed, [], 'every reply is [id, 0, …], [id, 1, known code, …] or a push')
  assert.equal(hellos, FRAMES + 1, `every frame was answered (${replies} replies)`)
  assert.deepEqual(order.problems, [], 'every revision followed the one before')
  const revision = await watcher.state.sync()
  t.diagnostic(
    `${FRAMES} frames, ${replies} replies ${JSON.stringify(Object.fromEntries(outcomes))}, revision ${revision}`,
  )
  const fresh = await clientFor(server)
  assert.equal(fresh.state.revision, revision)
  assert.deepEqual(
    fresh.state.snapshot(),
    watcher.state.snapshot(),
    'the watcher’s replica equals a fresh one',
  )
  const info = await fresh.server()
  assert.ok(info.revision === revision)
  assert.equal(victim.exitCode, null, 'the bystander process is alive')
  assert.equal(victim.signalCode, null)
  victim.kill('SIGKILL')
  await once(victim, 'exit')
})
