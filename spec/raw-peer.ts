// A peer speaking the wire protocol itself (docs/protocol.md), for what the public API cannot send:
// hand-made MessagePack, patches no client would write.
import type { TestContext } from 'node:test'
import { Dealer } from 'zeromq'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION, Status } from '../lib/protocol/ops.ts'

export type Reply = [id: number, status: number, ...rest: unknown[]]

export interface RawPeer {
  // Sends one frame of requests (request ids from 1 up, one each) and returns their replies by id.
  send(frame: Buffer): Promise<Reply[]>
  // One request; its reply.
  request(op: number, ...args: unknown[]): Promise<Reply>
}

// Connects and says HELLO; closed when the test ends.
export async function rawPeer(t: TestContext, address: string): Promise<RawPeer> {
  const dealer = new Dealer({ linger: 0, receiveTimeout: 15_000 })
  t.after(() => dealer.close())
  dealer.connect(address)
  const send = async (frame: Buffer): Promise<Reply[]> => {
    const expected = (decode(frame) as unknown[]).length
    await dealer.send(frame)
    const replies: Reply[] = []
    while (replies.length < expected) {
      const [reply] = await dealer.receive()
      replies.push(...(decode(reply!) as Reply[]))
    }
    return replies.sort((a, b) => a[0] - b[0])
  }
  const request = async (op: number, ...args: unknown[]): Promise<Reply> =>
    (await send(encode([[1, op, ...args]])))[0]!
  const [, status] = await request(Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', process.pid, 'raw')
  if (status !== Status.OK) throw new Error('HELLO was refused')
  return { send, request }
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
