// A raw DEALER with a session whose replies are read by request id, in any order and as late as they
// come, for transactions that wait their turn (spec/raw-peer.ts waits for each frame's outcomes).
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { Client } from '../lib/index.ts'
import { Dealer } from 'zeromq'
import { decode, encode } from '../lib/protocol/codec.ts'
import { ChangeKind, Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { HOLD_MS } from '../lib/server/claims.ts'

// A raw DEALER with a session: sends requests, and reads replies by request id (pushes skipped).
export async function rawSession(t: TestContext, address: string, replicate?: string[], key = 'k') {
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(address)
  const early = new Map<number, unknown[]>()
  // How many replies came for each request id (pushes skipped): exactly one each, always.
  const replies = new Map<number, number>()
  const reply = async (id: number): Promise<unknown[]> => {
    for (;;) {
      const found = early.get(id)
      if (found !== undefined) {
        early.delete(id)
        return found
      }
      const message = decode(fromParts(await dealer.receive(), 0)!) as unknown[][]
      for (const entry of message) {
        const entryId = entry[0] as number
        if (entryId === 0) continue
        replies.set(entryId, (replies.get(entryId) ?? 0) + 1)
        if (!early.has(entryId)) early.set(entryId, entry)
      }
    }
  }
  const send = (request: unknown[]) => dealer.send(encode([request]))
  const helloArgs = [PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', 1, 'raw', ...(replicate ? [replicate] : [])]
  await send([1, Op.HELLO, ...helloArgs])
  const [, , , , epoch] = await reply(1)
  // TXN: a write of `key`, from `base`, that may queue, under claim `held` (0: none).
  const txn = (id: number, base: number, value: unknown, queue: boolean, held = 0) =>
    send([id, Op.TXN, epoch, base, [key], false, [[key, ChangeKind.SET, value]], queue, held])
  const release = (id: number, base: number, held: number) =>
    send([id, Op.TXN, epoch, base, [], false, [], false, held])
  return { send, reply, txn, release, replies, epoch: epoch as string }
}

// A raw session that conflicts on `key` (it read it at revision 0, and it was written since) and is
// granted its turn at once; `since`: when it asked, before the server granted it.
export async function holder(t: TestContext, address: string, key = 'k') {
  const raw = await rawSession(t, address, undefined, key)
  const since = performance.now()
  await raw.txn(2, 0, -1, true)
  const [, status, zero, revision, claim] = await raw.reply(2)
  assert.deepEqual([status, zero, claim], [Status.OK, 0, 2], 'granted its turn, claim 2')
  return { ...raw, revision: revision as number, since }
}

export type Holder = Awaited<ReturnType<typeof holder>>

// Runs `scenario` against a turn just granted to a raw session on a fresh key (k0, k1, …) that
// `client` has set to 0. A turn lapses HOLD_MS after its grant once others want its keys: a round
// that took that long (a loaded machine) may rightly have seen it lapse, so its failure is not the
// scenario's and another round runs, for 20 s at most (a clean CI run with another spec file beside
// this one lost 20 rounds in a row, 1.8 s).
export async function withFreshTurn(
  t: TestContext,
  server: { readonly address: string },
  client: Client<any>,
  scenario: (holder: Holder, key: string) => Promise<void>,
): Promise<void> {
  const deadline = performance.now() + 20_000
  for (let round = 0; ; round++) {
    const key = `k${round}`
    await client.state.set(key, 0)
    const a = await holder(t, server.address, key)
    try {
      return await scenario(a, key)
    } catch (error) {
      if (performance.now() - a.since < HOLD_MS || performance.now() > deadline) throw error
    }
  }
}
