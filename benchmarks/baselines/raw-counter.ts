import { pack, unpack } from 'msgpackr'
import { Dealer } from 'zeromq'
import type { IpcDir } from '../support/ipc.ts'
import { forkSide, type Side } from '../support/processes.ts'

// Raw awaited increments: a DEALER per client process and one ROUTER in a process of its own that keeps
// the counters (benchmarks/sides/counter-router.ts). The message pattern of awaited increments of a
// shared counter without fan-out — each increment one request and one reply, nothing published — as in
// ZProc, whose clients each make one request/reply round trip to its server per operation.
export interface CounterServer extends AsyncDisposable {
  readonly endpoint: string
  // The counter's value as the server holds it (undefined: never incremented).
  get(key: string): Promise<number | undefined>
}

export async function startCounterServer(dir: IpcDir): Promise<CounterServer> {
  const endpoint = dir.endpoint('counter')
  const side: Side = await forkSide(new URL('../sides/counter-router.ts', import.meta.url))
  await side.call('bind', endpoint)
  return {
    endpoint,
    get: (key) => side.call<number | undefined>('get', key),
    [Symbol.asyncDispose]: () => side.stop(),
  }
}

export interface CounterClient extends Disposable {
  // One increment, awaited: resolves with the counter's new value.
  increment(key: string, by?: number): Promise<number>
}

const INCREMENT = 10 // zstate's op code, so the request has the same shape and size

export function counterClient(endpoint: string): CounterClient {
  const dealer = new Dealer({ sendTimeout: 0 })
  dealer.connect(endpoint)
  let nextId = 1
  return {
    async increment(key, by = 1) {
      const id = nextId++
      await dealer.send(pack([[id, INCREMENT, key, by]]))
      const [reply] = await dealer.receive()
      if (reply === undefined) throw new Error('counter: an empty reply')
      const [[answered, , value]] = unpack(reply) as [[number, number, number]]
      if (answered !== id) throw new Error(`counter: reply ${answered} to request ${id}`)
      return value
    },
    [Symbol.dispose]: () => dealer.close(),
  }
}
