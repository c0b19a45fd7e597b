import { unpack } from 'msgpackr'
import { Subscriber } from 'zeromq'
import { forkSide, type Side } from '../support/processes.ts'
import type { IpcDir } from '../support/ipc.ts'
import { rawClient, type RawClient } from './raw-client.ts'

// Raw DEALER→ROUTER round trip, one outstanding, to a ROUTER in another process: the floor under a
// sequential awaited write. With `publishedCopy` the server is the relay, which also publishes every
// message, and this process subscribes and decodes each copy: the same three messages per write that
// a state server and a client holding a replica exchange (request, reply, change), so the gap between
// the two floors is what the design costs and the gap above it is what the implementation costs.
// With `durableLog` the ROUTER appends each message to that file and fdatasyncs it before the reply:
// the floor under an awaited write with fsync 'always'.
export interface RoundTrip extends AsyncDisposable {
  readonly client: RawClient
  // The server's process (to bind it to a core).
  readonly serverPid: number
}

export async function startRoundTrip(
  dir: IpcDir,
  options: { publishedCopy?: boolean; durableLog?: string } = {},
): Promise<RoundTrip> {
  const requests = dir.endpoint(
    options.publishedCopy === true
      ? 'copy-relay'
      : options.durableLog !== undefined
        ? 'durable-echo'
        : 'echo',
  )
  let server: Side
  let subscriber: Subscriber | undefined
  if (options.publishedCopy === true) {
    const changes = dir.endpoint('copy-relay-pub')
    server = await forkSide(new URL('../sides/relay.ts', import.meta.url))
    await server.call('bind', requests, changes)
    subscriber = new Subscriber()
    subscriber.connect(changes)
    subscriber.subscribe()
    void decodeAll(subscriber)
  } else {
    server = await forkSide(new URL('../sides/echo-router.ts', import.meta.url))
    await server.call('bind', requests, options.durableLog)
  }
  const client = rawClient(requests)
  return {
    client,
    serverPid: server.pid,
    async [Symbol.asyncDispose]() {
      client[Symbol.dispose]()
      subscriber?.close()
      await server.stop()
    },
  }
}

// Receives and decodes every published copy, as a replica must; ends when the socket closes.
async function decodeAll(subscriber: Subscriber): Promise<void> {
  try {
    for await (const [body] of subscriber) if (body !== undefined) unpack(body)
  } catch {
    // closed
  }
}
