import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { nowUs } from '../support/clock.ts'
import { serveSide } from '../support/processes.ts'
import { itemOf, keyOf } from '../support/values.ts'

const { connect } = zstatePackage

// One of the client processes of the scale-out benchmark: a full replica joined through one gateway,
// whose reads are timed on its replica and whose writes are timed through its gateway. Times are on
// the machine-wide monotonic clock, so the parent can span every client's work at once.
export interface Span {
  readonly startUs: number
  readonly endUs: number
}

let client: Client<Record<string, unknown>> | undefined

function connected(): Client<Record<string, unknown>> {
  if (client === undefined) throw new Error('call connect first')
  return client
}

serveSide(
  {
    async connect(address: string, name: string) {
      await client?.close()
      client = await connect(address, { name })
    },
    async close() {
      await client?.close()
      client = undefined
    },
    // `count` state.get of keys 0..keys-1 in rotation; every value must be there.
    reads(keys: number, count: number): Span {
      const { state } = connected()
      const names = Array.from({ length: keys }, (_, i) => keyOf(i))
      const startUs = nowUs()
      let missing = 0
      for (let i = 0; i < count; i++) if (state.get(names[i % keys]!) === undefined) missing++
      const endUs = nowUs()
      if (missing > 0) throw new Error(`${missing} of ${count} reads found no value`)
      return { startUs, endUs }
    },
    // `count` state.set at once, each its own revision, under this client's own keys.
    async writes(tag: string, count: number): Promise<Span> {
      const { state } = connected()
      const startUs = nowUs()
      await Promise.all(Array.from({ length: count }, (_, i) => state.set(`${tag}/${i % 100}`, itemOf(i))))
      return { startUs, endUs: nowUs() }
    },
  },
  () => client?.close(),
)
