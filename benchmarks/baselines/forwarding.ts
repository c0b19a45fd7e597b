import { unpack, pack } from 'msgpackr'
import { Dealer } from 'zeromq'
import type { IpcDir } from '../support/ipc.ts'
import { forkSide, stopAll } from '../support/processes.ts'
import { keyOf } from '../support/values.ts'
import { rawClient, type RawClient } from './raw-client.ts'

// Raw DEALER→ROUTER→DEALER forwarding and back: a caller here, a forwarding ROUTER and a provider
// in two more processes. The floor under a service call, which takes the same four hops.
export interface Forwarding extends AsyncDisposable {
  // One outstanding request at a time.
  readonly client: RawClient
  // `count` requests in flight from one DEALER (one message each); resolves when all replies are in.
  pipelined(count: number, valueOf: (i: number) => unknown): Promise<void>
}

export async function startForwarding(dir: IpcDir): Promise<Forwarding> {
  const endpoint = dir.endpoint('forwarder')
  const forwarder = await forkSide(new URL('../sides/forwarder.ts', import.meta.url))
  const provider = await forkSide(new URL('../sides/raw-provider.ts', import.meta.url))
  await forwarder.call('bind', endpoint)
  await provider.call('connect', endpoint)
  await forwarder.call('providerReady')
  const client = rawClient(endpoint)
  const pipelining = new Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0, sendTimeout: 0 })
  pipelining.connect(endpoint)
  return {
    client,
    async pipelined(count, valueOf) {
      const receiving = (async () => {
        for (let received = 0; received < count; received++) {
          const [reply] = await pipelining.receive()
          if (reply !== undefined) unpack(reply)
        }
      })()
      for (let i = 0; i < count; i++) await pipelining.send(pack([[i, 6, keyOf(i), valueOf(i)]]))
      await receiving
    },
    async [Symbol.asyncDispose]() {
      client[Symbol.dispose]()
      pipelining.close()
      await stopAll([provider, forwarder])
    },
  }
}
