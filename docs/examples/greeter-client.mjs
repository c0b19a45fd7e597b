// Another node: waits for the greeter (start it before or after this one), discovers it and calls it.
//
//   ZSTATE_ADDRESS=… node docs/examples/greeter-client.mjs
import { connect } from 'zstate'

const client = await connect(undefined, { name: 'greeter-client' })
try {
  console.log('waiting for the greeter…')
  await client.waitForService('greeter', { timeout: 30_000 })
  for (const { name, providers, methods } of await client.services())
    console.log(`found ${name}: ${providers} provider(s), methods ${methods.join(', ')}`)
  const greeter = client.service('greeter')
  console.log(await greeter.hello('world'))
  const { greeted } = await greeter.stats()
  console.log(`the greeter has greeted ${greeted} time(s)`)
} finally {
  await client.close()
}
