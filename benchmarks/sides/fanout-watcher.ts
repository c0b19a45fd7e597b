import { unpack } from 'msgpackr'
import { Subscriber } from 'zeromq'
import type { Client } from '../../lib/index.ts'
import { zstatePackage } from '../support/built.ts'
import { nowUs } from '../support/clock.ts'
import { Tally, type TallyReport } from '../support/fanout.ts'
import { emit, serveSide } from '../support/processes.ts'

const { connect } = zstatePackage

// One of the watcher processes of the fan-out benchmark: a zstate client that watches every change of
// a burst (state.watch, which repairs gaps), and a raw SUB that counts what the baseline PUB delivers.
// Each reports what it saw of the burst it was told to expect (see Tally).
let client: Client<Record<string, unknown>> | undefined
const subscriber = new Subscriber({ linger: 0 }) // default receive high-water mark, as zstate's clients
let zstate: { tally: Tally; stop: AbortController } | undefined
let raw: Tally | undefined

const S = 's'.charCodeAt(0)
const E = 'e'.charCodeAt(0)
const P = 'p'.charCodeAt(0)

function idOf(value: unknown): number {
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined
  if (typeof id !== 'number') throw new Error('fan-out: a change without a numeric id')
  return id
}

// The raw stream: a change is [epoch, [[revision, [[key, 0, value]]]]].
async function receiveRaw(): Promise<void> {
  for await (const [channel, body] of subscriber) {
    if (channel === undefined || body === undefined) continue
    if (channel[0] === S) {
      const [, [[, [[, , value]]]]] = unpack(body) as [string, [[number, [[string, number, unknown]]]]]
      raw?.see(idOf(value), nowUs())
    } else if (channel[0] === E) {
      if (raw !== undefined && unpack(body) === raw.last) raw.finish()
    } else if (channel[0] === P) emit('probe', unpack(body))
  }
}

async function watch(tally: Tally, signal: AbortSignal): Promise<void> {
  const { state } = connected()
  try {
    for await (const change of state.watch({ prefix: 'fan:', signal })) {
      const id = idOf(change.value)
      tally.see(id, nowUs())
      if (id === tally.last) break
    }
  } catch (error) {
    if (!signal.aborted) tally.fail(error)
  } finally {
    tally.finish()
  }
}

function connected(): Client<Record<string, unknown>> {
  if (client === undefined) throw new Error('call connect first')
  return client
}

async function collect(tally: Tally, timeoutMs: number): Promise<TallyReport> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([tally.done, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))])
  clearTimeout(timer)
  return tally.report()
}

serveSide(
  {
    async connect(address: string, rawEndpoint: string) {
      client = await connect(address, { name: 'bench-fan-out' })
      subscriber.connect(rawEndpoint)
      subscriber.subscribe()
      void receiveRaw().catch((error: unknown) => {
        if (!subscriber.closed) console.error('fan-out watcher:', error)
      })
    },
    // Starts watching for changes first..first+count-1 (subscribed when this resolves).
    expect(kind: 'zstate' | 'raw', first: number, count: number) {
      const tally = new Tally(first, count)
      if (kind === 'raw') raw = tally
      else {
        const stop = new AbortController()
        zstate = { tally, stop }
        void watch(tally, stop.signal)
      }
    },
    // What was seen once the burst is complete here, or after `timeoutMs`.
    async collect(kind: 'zstate' | 'raw', timeoutMs: number): Promise<TallyReport> {
      const current = kind === 'raw' ? raw : zstate?.tally
      if (current === undefined) throw new Error(`collect ${kind} before expect`)
      const report = await collect(current, timeoutMs)
      if (kind === 'raw') raw = undefined
      else {
        zstate?.stop.abort()
        zstate = undefined
      }
      return report
    },
  },
  async () => {
    zstate?.stop.abort()
    subscriber.close()
    await client?.close()
  },
)
