// A long-running node (PyZMP's spirit): provides the 'greeter' service until stopped with Ctrl-C or
// SIGTERM. It finds the server through ZSTATE_ADDRESS, like every other zstate process.
//
//   npx zstate serve                        # prints the address, e.g. ipc:///tmp/zstate-abc/state
//   ZSTATE_ADDRESS=… node docs/examples/greeter-node.mjs
import { connect } from 'zstate'

const client = await connect(undefined, { name: 'greeter-node' })
let greeted = 0
const service = await client.provide('greeter', {
  hello(name) {
    greeted++
    return `hello, ${name}!`
  },
  async stats() {
    return { greeted, pid: process.pid }
  },
})
console.log('greeter: providing')
await new Promise((resolve) => {
  process.once('SIGINT', resolve)
  process.once('SIGTERM', resolve)
})
await service.close() // calls in flight finish first
await client.close()
console.log(`greeter: stopped after ${greeted} greeting(s)`)
