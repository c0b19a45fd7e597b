// A client given several addresses moves past one that does not answer: at once where nothing listens
// (the connection fails), after its attempt's time where a peer accepts the connection and stays
// silent, even when garbage collections run meanwhile: on Node 20, AbortSignal.any() holds its
// sources weakly, and an attempt's timeout signal that nothing else held was collected and never fired.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { connect } from '../lib/index.ts'
import { serverFor, tempDir } from './support.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// A TCP peer on the loopback that accepts connections and never says a word: no ZeroMQ handshake, so
// an attempt there gets no answer until its time is up.
async function silentPeer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>()
  const peer = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  peer.listen(0, '127.0.0.1')
  await once(peer, 'listening')
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => peer.close(resolve))
  })
  const { port } = peer.address() as { port: number }
  return `tcp://127.0.0.1:${port}`
}

test('connect([silent, live]) joins the live server while garbage collections run', async (t) => {
  const server = await serverFor(t, 'ipc')
  const silent = await silentPeer(t)
  for (let round = 0; round < 3; round++) {
    const collecting = setInterval(gc, 20)
    try {
      const client = await connect([silent, server.address], { timeout: 8_000 })
      assert.equal(client.address, server.address)
      await client.close()
    } finally {
      clearInterval(collecting)
    }
  }
})

// Each attempt may take max(1 s, heartbeatTimeout): at 60 s, a join that waited out an address where
// nothing listens could not reach the live one within its 10 s. Nothing listens on port 1 of the
// loopback, nor at an ipc path with no socket file.
test('connect([nothing listens, nothing listens, live]) moves past the dead addresses at once', async (t) => {
  const server = await serverFor(t, 'tcp')
  const dead = ['tcp://127.0.0.1:1', `ipc://${join(tempDir(t), 'nobody.sock')}`]
  for (let round = 0; round < 3; round++) {
    const client = await connect([...dead, server.address], { timeout: 10_000, heartbeatTimeout: 60_000 })
    assert.equal(client.address, server.address)
    await client.close()
  }
})
