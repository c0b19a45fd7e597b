// Restart timing: a state server from the built package (plain JavaScript, as users run it) on the
// data dir the parent names, if any. It sends its address once startServer() has resolved, and closes
// (a clean close) when the parent sends 'stop' or goes away.
import process from 'node:process'
import { startServer } from '../../dist/lib/index.js'

const [address, dataDir] = process.argv.slice(2)
const server = await startServer({ address, ...(dataDir === undefined ? {} : { dataDir }) })
const stop = () => {
  server.close().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
process.on('message', (message) => {
  if (message === 'stop') stop()
})
process.on('disconnect', stop)
process.send(server.address)
