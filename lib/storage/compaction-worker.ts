// The compaction thread's entry (lib/storage/compaction.ts): builds the snapshot, reports once.
import { parentPort, workerData } from 'node:worker_threads'
import { isZStateError } from '../errors.ts'
import { buildSnapshot } from './compactor.ts'

const { dir, upToRevision } = (workerData ?? {}) as Record<string, unknown>
try {
  if (typeof dir !== 'string' || typeof upToRevision !== 'number') throw new Error('started without its job')
  const written = await buildSnapshot(dir, upToRevision)
  parentPort!.postMessage({ ok: true, ...written })
} catch (error) {
  const { message } = error as Error
  parentPort!.postMessage({ ok: false, message, code: isZStateError(error) ? error.code : undefined })
}
