import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { before, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Dealer } from 'zeromq'
import { hostId } from '../lib/host.ts'
import type { ProcessTable } from '../lib/index.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { MAX_SESSION_CHILDREN, MAX_SESSION_CONTEXTS } from '../lib/server/contexts.ts'
import {
  allGone,
  alive,
  assertDistBuilt,
  contextFor,
  fixtureUrl,
  startParent,
  stressFor,
  until,
} from './process-support.ts'
import { addressFor, fixture, serverFor, tempDir, transports } from './support.ts'
import { zstate } from './fixtures/cli-run.ts'
import { fromParts } from '../lib/protocol/parts.ts'

// Only a context's owner acts on it, and no request makes the server signal anything: sessions that
// speak the protocol themselves (a raw DEALER, as docs/protocol.md describes it) try, and fail.
// What dies with an owner dies through the owner's own watchdog, with no server involved.

before(assertDistBuilt)

type Reply = [id: number, status: number, ...rest: unknown[]]

// A client speaking the wire protocol directly: every request of a frame answered before the next.
class RawPeer {
  readonly #dealer = new Dealer({ linger: 0, receiveTimeout: 15_000 })
  #next = 1
  // The largest reply frame seen, bytes.
  largest = 0

  static async open(t: TestContext, address: string, name: string): Promise<RawPeer> {
    const peer = new RawPeer()
    peer.#dealer.connect(address)
    t.after(() => peer.close())
    const [, status] = await peer.request(Op.HELLO, PROTOCOL_VERSION, token(), process.pid, name)
    assert.equal(status, Status.OK)
    return peer
  }

  async request(op: number, ...args: unknown[]): Promise<Reply> {
    const [reply] = await this.send([[op, ...args]])
    return reply!
  }

  // Sends the requests as one frame; their replies, in request order.
  async send(requests: readonly (readonly unknown[])[]): Promise<Reply[]> {
    const ids = requests.map(() => this.#next++)
    await this.#dealer.send(encode(requests.map((request, i) => [ids[i], ...request])))
    const replies = new Map<number, Reply>()
    while (replies.size < ids.length) {
      const frame = fromParts(await this.#dealer.receive(), 0)
      this.largest = Math.max(this.largest, frame!.length)
      for (const reply of decode(frame!) as Reply[]) replies.set(reply[0], reply)
    }
    return ids.map((id) => replies.get(id)!)
  }

  // Says HELLO again first: with short heartbeats, a peer that does not ping expires between tables.
  async table(): Promise<ProcessTable> {
    assertOk(await this.request(Op.HELLO, PROTOCOL_VERSION, token(), process.pid, 'observer'))
    const [, status, table] = await this.request(Op.PROCESSES)
    assert.equal(status, Status.OK)
    return table as ProcessTable
  }

  // Asks for tables until one satisfies `predicate` (bounded).
  async tableWhen(predicate: (table: ProcessTable) => boolean, what: string): Promise<ProcessTable> {
    let table: ProcessTable | undefined
    await until(async () => predicate((table = await this.table())), what, 10_000)
    return table!
  }

  close(): void {
    this.#dealer.close()
  }
}

const token = (): string => randomBytes(8).toString('hex')
// Between a session's pings: well within its 10 heartbeats of 300 ms.
const HEARTBEAT_PAUSE_MS = 300

function assertRefused(reply: Reply, code = 'ERR_INVALID_ARGUMENT'): void {
  assert.equal(reply[1], Status.ERROR, `refused: ${JSON.stringify(reply)}`)
  assert.equal(reply[2], code, String(reply[3]))
}

function assertOk(reply: Reply): void {
  assert.equal(reply[1], Status.OK, `accepted: ${JSON.stringify(reply)}`)
}

for (const transport of transports) {
  void test(`process: another session can neither close, change nor take over a context it did not open (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    const ctx = await contextFor<Record<string, unknown>>(t, { address: server.address, name: 'the owner' })
    const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['owned'], name: 'owned child' })
    const pid = (await ctx.state.whenAvailable('pid:owned')) as number

    const raw = await RawPeer.open(t, server.address, 'intruder')
    // Listings are read-only and show everything, ids included: an id is no capability.
    const owner = (table: ProcessTable) => table.contexts.find((context) => context.name === 'the owner')
    const table = await raw.tableWhen(
      (table) => owner(table)?.children[0]?.status === 'running',
      'the child is listed as running',
    )
    const row = owner(table)!
    assert.deepEqual(
      row.children.map((c) => [c.name, c.pid]),
      [['owned child', pid]],
    )
    for (const request of [
      [Op.CONTEXT_CLOSE, row.id],
      [Op.CHILD, row.id, 'a key', pid, null, 'owned child', 'failed', 1],
      [Op.CHILD, row.id, 'another', pid, null, 'planted', 'running', 1],
      [Op.CONTEXT_OPEN, row.id, 'taken over', process.pid, null, hostId()],
    ])
      assertRefused(await raw.request(...(request as [number, ...unknown[]])))
    // The first wave's reap flag is gone from the protocol.
    assertRefused(await raw.request(Op.CONTEXT_CLOSE, row.id, true), 'ERR_PROTOCOL')

    assert.ok(alive(pid))
    process.kill(pid, 0)
    const again = (await raw.table()).contexts.find((context) => context.id === row.id)
    assert.equal(again?.name, 'the owner')
    assert.deepEqual(
      again.children.map((c) => [c.name, c.pid, c.status]),
      [['owned child', pid, 'running']],
    )
    await ctx.state.set('release', true)
    assert.equal(await child.wait(), 'owned')
  })

  void test(`process: no request makes the server signal a process, whatever pids it claims (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    // A process of the same user, whose parent (this test) really is the owner the attacker claims.
    const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
    t.after(() => victim.kill('SIGKILL'))
    const pid = victim.pid!
    await until(() => alive(pid), 'the victim runs')

    const raw = await RawPeer.open(t, server.address, 'attacker')
    const [first, second] = [token(), token()]
    for (const reply of await raw.send([
      [Op.CONTEXT_OPEN, first, 'attacker', process.pid, null, hostId()],
      [Op.CHILD, first, 'k', pid, null, 'victim', 'running', 1],
      [Op.CONTEXT_CLOSE, first],
      [Op.CONTEXT_OPEN, second, 'attacker', process.pid, null, hostId()],
      [Op.CHILD, second, 'k', pid, null, 'victim', 'running', 1],
    ]))
      assertOk(reply)
    assertRefused(await raw.request(Op.CONTEXT_CLOSE, second, true), 'ERR_PROTOCOL')
    // A child without a client of its own is listed on its context's word (joined: false); the flag
    // is a boolean, and the last argument.
    assertOk(await raw.request(Op.CHILD, second, 'u', pid, null, 'unjoined', 'running', 1, false))
    assertRefused(
      await raw.request(Op.CHILD, second, 'u', pid, null, 'unjoined', 'running', 1, 'no'),
      'ERR_PROTOCOL',
    )
    assertRefused(
      await raw.request(Op.CHILD, second, 'u', pid, null, 'u', 'running', 1, false, 0),
      'ERR_PROTOCOL',
    )
    // The session ends with its context open, as when its owner dies: the context is forgotten.
    assertOk(await raw.request(Op.BYE))
    // Each reply came after its request was handled: had anything been signalled, it would be by now.
    assert.ok(alive(pid), 'the victim is alive')
    process.kill(pid, 0)
  })
}

void test('process: a session’s contexts are bounded, and freed when the session ends (BYE or expiry)', async (t) => {
  // Its own process, so that its memory is its own; 64 KiB messages, so that the listing is cut;
  // sessions expire after 10 × 300 ms of silence: the flood's must outlive the zstate top run below,
  // a process of its own that takes over a second to start on 2 busy cores.
  const maxMessageBytes = 64 << 10
  const server = fixture(t, 'server', [
    JSON.stringify({ address: addressFor(t, 'ipc'), heartbeatMs: 300, maxMessageBytes }),
  ])
  const { address } = (await server.event(1)) as { address: string }
  const observer = await RawPeer.open(t, address, 'observer')
  const before = (await observer.table()).server.memory!

  const flood = await RawPeer.open(t, address, 'flood')
  const ids = Array.from({ length: MAX_SESSION_CONTEXTS + 20 }, token)
  const opened = await flood.send(ids.map((id) => [Op.CONTEXT_OPEN, id, 'c'.repeat(300), 1, null, 'x']))
  opened.slice(0, MAX_SESSION_CONTEXTS).forEach(assertOk)
  for (const reply of opened.slice(MAX_SESSION_CONTEXTS)) {
    assertRefused(reply)
    assert.match(String(reply[3]), /at most 64 contexts/)
  }
  // Far more children than the bound, spread over the contexts, in frames under maxMessageBytes.
  const name = 'n'.repeat(200)
  let accepted = 0
  for (let frame = 0; frame < 50; frame++) {
    const replies = await flood.send(
      Array.from({ length: 200 }, (_, i) => {
        const n = frame * 200 + i
        return [Op.CHILD, ids[n % MAX_SESSION_CONTEXTS], `k${n}`, 1 + n, null, name, 'running', 1]
      }),
    )
    for (const reply of replies) {
      if (reply[1] === Status.OK) accepted++
      else assert.match(String(reply[3]), /at most 4096 live children/)
    }
  }
  assert.equal(accepted, MAX_SESSION_CHILDREN)
  // An ended child frees its place.
  assertOk(await flood.request(Op.CHILD, ids[0], 'k0', 1, null, name, 'exited', 1))
  assertOk(await flood.request(Op.CHILD, ids[0], 'again', 1, null, name, 'running', 1))

  // The listing fits one reply: what is left out is counted.
  const table = await observer.table()
  assert.ok(observer.largest <= maxMessageBytes, `a reply of ${observer.largest} bytes`)
  const mine = table.contexts.filter((context) => context.name.startsWith('c'))
  const listedChildren = mine.reduce((sum, context) => sum + context.children.length, 0)
  assert.equal(mine.length + table.omitted.contexts, MAX_SESSION_CONTEXTS)
  assert.equal(listedChildren + table.omitted.children, MAX_SESSION_CHILDREN)
  assert.ok(table.omitted.children > 0)
  assert.ok(mine.every((context) => context.name.length === 256))
  const after = table.server.memory!
  assert.ok(after - before < 64 << 20, `the server grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB`)
  // The flood's session pings while zstate top starts, which on a loaded machine can outlast the
  // session's 3 s of allowed silence.
  let listed = false
  const topRun = zstate(['top', '--once', '--address', address]).finally(() => (listed = true))
  while (!listed) {
    assertOk(await flood.request(Op.PING))
    await sleep(HEARTBEAT_PAUSE_MS)
  }
  const top = await topRun
  assert.equal(top.code, 0, top.stderr)
  assert.match(top.stdout, /^ {2}… [\d,]+ more children not listed$/m)

  // BYE ends the session, and its contexts with it.
  assertOk(await flood.request(Op.BYE))
  assert.deepEqual((await observer.table()).contexts, [])

  // A session that goes silent expires, and its contexts with it.
  const silent = await RawPeer.open(t, address, 'silent')
  assertOk(await silent.request(Op.CONTEXT_OPEN, token(), 'silent one', 1, null, 'x'))
  assert.equal((await observer.table()).contexts.length, 1)
  silent.close()
  await observer.tableWhen((table) => table.contexts.length === 0, 'the silent session’s context is freed')
})

void test('process: a SIGKILLed owner’s busy children die through its watchdog, without any server', async (t) => {
  for (let round = 0; round < stressFor(1, 10); round++) {
    const server = await serverFor(t, 'ipc')
    // On a server it does not own: the parent's children find each other there.
    const parent = await startParent(t, server.address, 'wait')
    const family = parent.pids.filter((pid) => pid !== process.pid)
    // The server plays no part: it is gone before the parent dies.
    await server.close()
    parent.child.kill('SIGKILL')
    await parent.exited
    // Two of them spin and cannot notice their IPC channel closing; grandchildren included.
    await allGone(family, 10_000)
  }
})

void test('process: a context’s own server dies with it even while an action keeps it busy, its ipc dir removed', async (t) => {
  const marker = join(tempDir(t), 'spinning')
  const script = fileURLToPath(fixtureUrl('busy-server-owner.mjs'))
  const owner = spawn(process.execPath, [script, marker], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => owner.kill('SIGKILL'))
  const line = await new Promise<string>((resolve, reject) => {
    owner.stdout.setEncoding('utf8').once('data', resolve)
    owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) before it was ready`)))
  })
  const [pid, address] = line.trim().split(' ') as [string, string]
  const server = Number(pid)
  // The server's private ipc dir, which it cannot remove itself once killed.
  const dir = dirname(address.slice('ipc://'.length))
  t.after(() => {
    if (alive(server)) process.kill(server, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  assert.ok(existsSync(dir), dir)
  await until(() => existsSync(marker), 'the server runs the endless action')
  owner.kill('SIGKILL')
  // Too busy to see its IPC channel close: the owner's watchdog kills it after its grace period, then
  // removes its dir.
  await allGone([server], 15_000)
  await until(() => !existsSync(dir), `${dir} is removed`)
})

void test('process: ctx.close() after its server was SIGKILLed returns in a few seconds, every child stopped', async (t) => {
  const ctx = await contextFor<Record<string, unknown>>(t)
  ctx.spawn(fixtureUrl('worker-spin.mjs'), { args: ['spin'] })
  ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['idle'] })
  const view = await ctx.state.when((state) => ['spin', 'idle'].every((n) => state.has(`pid:${n}`)))
  const pids = [view['pid:spin'], view['pid:idle']] as number[]
  // The server's private ipc dir, which a killed server cannot remove itself.
  const address = await ctx.spawn(() => process.env['ZSTATE_ADDRESS']!).wait()
  const dir = dirname(address.slice('ipc://'.length))
  assert.ok(existsSync(join(dir, 'state')), dir)
  process.kill((await ctx.server()).pid, 'SIGKILL')
  const started = Date.now()
  await ctx.close()
  const took = Date.now() - started
  // Neither child heeds its ctx.signal: both end with SIGTERM, halfway through the 5 s grace period.
  // Nothing else waits on the lost server.
  assert.ok(took < 5_000, `close took ${took} ms`)
  assert.deepEqual(pids.filter(alive), [])
  assert.equal(existsSync(dir), false, `${dir} is left behind`)
})
