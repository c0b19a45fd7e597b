// A peer speaking the wire protocol itself (docs/protocol.md), for what the public API cannot send:
// hand-made MessagePack, patches no client would write. A write that commits is acknowledged by its
// commit on the change stream, not by a reply (protocol 2): the peer follows the stream and turns each
// commit naming its session into the reply `[id, OK, revision, result?]`.
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { Dealer, Subscriber } from 'zeromq'
import { deferred } from '../lib/deferred.ts'
import { awaitEcho } from '../lib/link/echo.ts'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Channel as PubChannel, Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'
import { fromParts } from '../lib/protocol/parts.ts'
import { peekArrayLength } from '../lib/protocol/frames.ts'

export type Reply = [id: number, status: number, ...rest: unknown[]]

export interface RawPeer {
  // Sends one frame of requests (request ids from 1 up, one each) and returns their outcomes by id.
  send(frame: Buffer): Promise<Reply[]>
  // One request; its outcome.
  request(op: number, ...args: unknown[]): Promise<Reply>
  // Every commit the change stream brought since HELLO, as decoded: [revision, previous, changes, ...].
  readonly commits: unknown[][]
}

const TIMEOUT_MS = 15_000

// Connects, says HELLO and proves its subscription live; closed when the test ends.
export async function rawPeer(t: TestContext, address: string): Promise<RawPeer> {
  const dealer = new Dealer({ linger: 0 })
  const sub = new Subscriber({ linger: 0 })
  t.after(() => {
    dealer.close()
    sub.close()
  })
  dealer.connect(address)
  const outcomes: Reply[] = []
  // The one take() in progress: how many outcomes it waits for, and how to wake it.
  let waiting: { count: number; wake: () => void } | undefined
  const arrived = (replies: Reply[]): void => {
    outcomes.push(...replies)
    if (waiting !== undefined && outcomes.length >= waiting.count) waiting.wake()
  }
  void (async () => {
    for await (const frames of dealer) arrived(decode(fromParts(frames, 0)!) as Reply[])
  })().catch(() => {})
  // Waits until `count` outcomes arrived (woken by the one that completes them), and takes them.
  const take = async (count: number): Promise<Reply[]> => {
    if (outcomes.length < count) {
      const signal = AbortSignal.timeout(TIMEOUT_MS)
      await new Promise<void>((resolve, reject) => {
        waiting = { count, wake: resolve }
        signal.onabort = () => reject(new Error(`raw peer: ${outcomes.length} of ${count} outcomes arrived`))
      }).finally(() => {
        waiting = undefined
        signal.onabort = null
      })
    }
    return outcomes.splice(0, outcomes.length).sort((a, b) => a[0] - b[0])
  }
  const send = async (frame: Buffer): Promise<Reply[]> => {
    await dealer.send(frame)
    // Counted from the frame's header: what its requests hold may be anything.
    return take(peekArrayLength(frame) ?? 0)
  }
  const request = async (op: number, ...args: unknown[]): Promise<Reply> =>
    (await send(encode([[1, op, ...args]])))[0]!

  const token = randomBytes(8).toString('hex')
  const hello = await request(Op.HELLO, PROTOCOL_VERSION, token, process.pid, 'raw')
  if (hello[1] !== Status.OK) throw new Error('HELLO was refused')
  const [, , , , , , pubEndpoint, , , , session] = hello as unknown[]
  sub.connect(pubEndpoint as string)
  sub.subscribe(PubChannel.STATE, PubChannel.ECHO + token)
  const echo = deferred<void>()
  const seen: unknown[][] = []
  void (async () => {
    for await (const frames of sub) {
      const [topic] = frames
      if (topic!.toString() !== PubChannel.STATE) {
        echo.resolve()
        continue
      }
      const [, commits] = decode(fromParts(frames, 1)!) as [string, unknown[][]]
      seen.push(...commits)
      const mine = commits.filter((commit) => commit.length >= 5 && commit[3] === session)
      if (mine.length > 0)
        arrived(mine.map(([revision, , , , id, ...result]) => [id as number, Status.OK, revision, ...result]))
    }
  })().catch(() => {})
  // The slow-joiner proof, the client's own.
  await awaitEcho(() => request(Op.ECHO, token), echo.promise, AbortSignal.timeout(TIMEOUT_MS))
  return { send, request, commits: seen }
}

// `frame` with the UTF-8 bytes of `placeholder` (found once) overwritten by `bytes` of the same length:
// a string whose bytes no encoder would write, with its MessagePack header intact.
export function withBytes(frame: Buffer, placeholder: string, bytes: Buffer): Buffer {
  const from = Buffer.from(placeholder)
  if (from.length !== bytes.length) throw new Error('placeholder and bytes differ in length')
  const at = frame.indexOf(from)
  if (at < 0 || frame.indexOf(from, at + 1) >= 0)
    throw new Error(`placeholder ${placeholder} is not in the frame once`)
  const result = Buffer.from(frame)
  bytes.copy(result, at)
  return result
}
