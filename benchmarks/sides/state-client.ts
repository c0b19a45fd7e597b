import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { nowUs } from '../support/clock.ts'
import type { Stamp } from '../support/latency.ts'
import { memoryNow } from '../support/memory.ts'
import { emit, serveSide } from '../support/processes.ts'
import { fill } from '../support/values.ts'

const { connect, isZStateError } = zstatePackage

// A zstate client in its own process: process B of the watch benchmark, and the replica whose memory
// the memory benchmark weighs.
let client: Client<Record<string, unknown>> | undefined

function connected(): Client<Record<string, unknown>> {
  if (client === undefined) throw new Error('call connect first')
  return client
}

const isStamp = (value: unknown): value is Stamp =>
  typeof value === 'object' && value !== null && typeof (value as Stamp).i === 'number'

// Reports each stamp written to `key` as the moment state.when resolves for it.
async function watch(key: string): Promise<void> {
  const { state } = connected()
  let last = -Infinity
  for (;;) {
    const seen = (await state.when(key, (value) => isStamp(value) && value.i > last)) as Stamp
    emit('sample', { i: seen.i, latencyUs: nowUs() - seen.t })
    last = seen.i
  }
}

serveSide(
  {
    async connect(address: string) {
      client = await connect(address, { name: 'bench-side' })
    },
    watch(key: string) {
      void watch(key).catch((error: unknown) => {
        if (!isZStateError(error) || error.code !== 'ERR_CLOSED') console.error('state-client watch:', error)
      })
    },
    fill: (count: number) => fill((values) => connected().state.update(values), count),
    size: () => connected().state.size,
    memory: () => memoryNow(),
  },
  () => client?.close(),
)
