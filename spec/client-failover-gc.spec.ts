// A client given several addresses moves past one that does not answer after its attempt's time, even
// when garbage collections run meanwhile: on Node 20, AbortSignal.any() holds its sources weakly, and
// an attempt's timeout signal that nothing else held was collected and never fired.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { connect } from '../lib/index.ts'
import { serverFor } from './support.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// Nothing listens on port 1 of the loopback: an attempt there gets no answer.
const DEAD = 'tcp://127.0.0.1:1'

test('connect([dead, live]) joins the live server while garbage collections run', async (t) => {
  const server = await serverFor(t, 'ipc')
  for (let round = 0; round < 3; round++) {
    const collecting = setInterval(gc, 20)
    try {
      const client = await connect([DEAD, server.address], { timeout: 8_000 })
      assert.equal(client.address, server.address)
      await client.close()
    } finally {
      clearInterval(collecting)
    }
  }
})
