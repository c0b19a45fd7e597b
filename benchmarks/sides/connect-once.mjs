// Spawn baseline: a child that imports zeromq, connects once (one round trip to an echo ROUTER) and
// ends; as a process it exits, as a worker thread it closes its socket first (zeromq.js#411).
import { isMainThread, parentPort } from 'node:worker_threads'
import { Dealer } from 'zeromq'

const dealer = new Dealer({ linger: 0 })
dealer.connect(process.env.ZSTATE_ADDRESS)
await dealer.send('ping')
await dealer.receive()
dealer.close()
if (isMainThread) process.send('done', () => process.exit(0))
else parentPort.postMessage('done')
