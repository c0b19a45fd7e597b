// Spawn baseline: a child that does nothing but say so.
import { isMainThread, parentPort } from 'node:worker_threads'

if (isMainThread) process.send('done', () => process.exit(0))
else parentPort.postMessage('done')
