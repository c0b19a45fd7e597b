import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { Dealer, Router } from 'zeromq'
import { sendOrWait } from '../lib/zmq.ts'
import { tempDir } from './support.ts'

test('sendOrWait: a socket with sendTimeout 0 that cannot take a message now waits for its peer, in order', async (t) => {
  const address = `ipc://${join(tempDir(t), 'late')}`
  // Nobody there yet: the dealer holds one message (its high-water mark), and then cannot take more.
  const dealer = new Dealer({ sendHighWaterMark: 1, sendTimeout: 0, linger: 0 })
  t.after(() => dealer.close())
  dealer.connect(address)
  await dealer.send(Buffer.from('0'))
  await assert.rejects(
    dealer.send(Buffer.from('x')),
    (error: unknown) => (error as { code?: unknown }).code === 'EAGAIN',
  )
  const sending = (async () => {
    for (let i = 1; i <= 5; i++) await sendOrWait(dealer, [Buffer.from(String(i))])
  })()
  // The sends wait for the peer rather than failing.
  const early = await Promise.race([
    sending.then(() => 'done'),
    new Promise((resolve) => setImmediate(resolve, 'waiting')),
  ])
  assert.equal(early, 'waiting')
  const router = new Router({ linger: 0 })
  t.after(() => router.close())
  await router.bind(address)
  const received: string[] = []
  for (let i = 0; i <= 5; i++) {
    const [, payload] = await router.receive()
    received.push(payload!.toString())
  }
  await sending
  assert.deepEqual(received, ['0', '1', '2', '3', '4', '5'])
  assert.equal(dealer.sendTimeout, 0, 'the socket keeps its sendTimeout')
})
