// A worker of the hand-written fork pool: applies the function named in argv[2] to each item of every
// chunk it is sent, and sends the results back with the chunk's id.
import * as work from './work.mjs'

const fn = work[process.argv[2]]
process.on('message', ([id, items]) => process.send([id, items.map(fn)]))
process.on('disconnect', () => process.exit(0))
process.send('ready')
