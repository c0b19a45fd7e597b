import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { Dealer } from 'zeromq'
import { decode, encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION } from '../lib/protocol/ops.ts'
import { MAX_PARTS, PART_BYTES, fromParts, toParts } from '../lib/protocol/parts.ts'
import { clientFor, serverFor } from './support.ts'

test('parts: a payload of 129 bytes to 1 KiB goes as 128-byte parts and joins back exactly', () => {
  for (let bytes = 0; bytes <= PART_BYTES * MAX_PARTS + 200; bytes++) {
    const payload = randomBytes(bytes)
    const frames = toParts(payload)
    const expected = bytes <= PART_BYTES || bytes > PART_BYTES * MAX_PARTS ? 1 : Math.ceil(bytes / PART_BYTES)
    assert.equal(frames.length, expected, `${bytes} bytes`)
    for (const part of frames.slice(0, -1)) assert.equal(part.length, PART_BYTES)
    // As a receiver sees them: behind a routing id or topic frame, copied.
    const received = [Buffer.from('id'), ...frames.map((frame) => Buffer.from(frame))]
    assert.deepEqual(fromParts(received, 1), payload, `${bytes} bytes`)
  }
})

test('parts: frames that are not a payload’s parts are refused, so a peer cannot make anyone join more than 1 KiB', () => {
  const part = Buffer.alloc(PART_BYTES, 1)
  const refused: [string, Buffer[]][] = [
    ['no payload frame', [Buffer.from('id')]],
    ['more than 8 parts', [Buffer.from('id'), ...Array.from({ length: MAX_PARTS + 1 }, () => part)]],
    ['a short part before the last', [Buffer.from('id'), part, part.subarray(1), part]],
    ['a long part', [Buffer.from('id'), part, Buffer.alloc(PART_BYTES + 1)]],
    ['an empty last part', [Buffer.from('id'), part, Buffer.alloc(0)]],
  ]
  for (const [what, frames] of refused) assert.equal(fromParts(frames, 1), undefined, what)
  // One frame is the payload as it is, whatever its size (large ones go whole).
  const large = Buffer.alloc(10_000, 2)
  assert.equal(fromParts([Buffer.from('id'), large], 1), large)
})

test('parts: the server applies a raw peer’s requests in parts, answers in parts, and drops malformed parts unapplied', async (t) => {
  const server = await serverFor(t, 'ipc')
  const dealer = new Dealer({ linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(server.address)
  const request = async (frames: Buffer[]): Promise<{ frames: number; replies: unknown[][] }> => {
    await dealer.send(frames)
    const received = await dealer.receive()
    return { frames: received.length, replies: decode(fromParts(received, 0)!) as unknown[][] }
  }
  await request([encode([[1, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', process.pid, 'raw']])])

  // A set of 500 bytes in parts commits; the history page that holds it comes back in parts.
  const value = 'v'.repeat(500)
  const set = toParts(
    encode([
      [0, Op.SET, 'k', value],
      [2, Op.SYNC],
    ]),
  )
  assert.ok(set.length > 1)
  const synced = await request(set)
  assert.deepEqual(synced.replies[0]!.slice(0, 4), [2, 0, server.epoch, 1])
  const history = await request([encode([[3, Op.HISTORY, 1, 1]])])
  assert.ok(history.frames > 1, `the history page came in ${history.frames} frame(s)`)
  // A commit: [revision, previous, changes, ...origin]; a change: [key, SET, value].
  const [, , , commits] = history.replies[0] as [number, number, string, [number, number, unknown[][]][]]
  assert.deepEqual(commits[0]![2], [['k', 0, value]])

  // Hostile parts: each hides a valid SET, none may be applied, each is counted.
  const hidden = encode([[0, Op.SET, 'hidden', 'x'.repeat(400)]])
  const part = (i: number): Buffer => hidden.subarray(i * PART_BYTES, (i + 1) * PART_BYTES)
  const hostile: Buffer[][] = [
    [...toParts(Buffer.concat([hidden, Buffer.alloc(PART_BYTES * MAX_PARTS - hidden.length + 1)]))],
    [part(0), part(1).subarray(1), part(2), part(3)],
    [part(0), part(1), part(2), part(3), Buffer.alloc(0)],
    Array.from({ length: MAX_PARTS + 1 }, () => part(0)),
  ]
  const dropped = (await clientFor(server).then((client) => client.server())).droppedFrames
  for (const frames of hostile) await dealer.send(frames)
  const after = await request([encode([[4, Op.SYNC]])])
  assert.deepEqual(after.replies[0]!.slice(0, 4), [4, 0, server.epoch, 1], 'nothing hidden was committed')
  const client = await clientFor(server)
  assert.equal((await client.server()).droppedFrames - dropped, hostile.length)
  assert.equal(client.state.get('hidden'), undefined)
  assert.equal(client.state.get('k'), value)
})

test('parts: replicas read values of every size around the part boundaries', async (t) => {
  const server = await serverFor(t, 'ipc')
  const writer = await clientFor(server)
  const reader = await clientFor(server)
  // Value sizes that put the commit message at, under and over 128 bytes and 1 KiB.
  const sizes = [1, 60, 80, 100, 120, 200, 500, 900, 990, 1000, 1010, 1100, 5000]
  for (const size of sizes) {
    const value = { size, text: 'é'.repeat(size >> 1) + 'x'.repeat(size & 1) }
    const revision = await writer.state.set(`v:${size}`, value)
    await reader.state.when(`v:${size}`, (seen) => seen !== undefined)
    assert.deepEqual(reader.state.get(`v:${size}`), value, `${size}`)
    assert.equal(reader.state.revision >= revision, true)
  }
})

test('parts: topic subscribers get messages of every size around the part boundaries', async (t) => {
  const server = await serverFor(t, 'ipc')
  const publisher = await clientFor(server)
  const subscriber = await clientFor(server)
  const sub = subscriber.subscribe('size/')
  t.after(() => sub.close())
  await sub.ready
  const sizes = [1, 100, 125, 130, 500, 1000, 1020, 1030, 4000]
  for (const size of sizes) await publisher.publish(`size/${size}`, 'm'.repeat(size))
  const seen: [string, number][] = []
  for await (const { topic, message } of sub) {
    seen.push([topic, (message as string).length])
    if (seen.length === sizes.length) break
  }
  assert.deepEqual(
    seen,
    sizes.map((size) => [`size/${size}`, size]),
  )
})
