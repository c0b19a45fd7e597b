// Plumbing for the messaging specs: provider and topic processes (spec/fixtures/provider.mjs, topics.mjs).
import type { TestContext } from 'node:test'
import { connect, isZStateError, type Client } from '../lib/index.ts'
import { fixture, type Fixture } from './support.ts'

// Server heartbeat for the specs that wait for a lost provider or server: a silent provider is
// dropped after 4 of them. The others keep the default (500), which tolerates a loaded machine.
export const HEARTBEAT_MS = 200

// A process providing `service` (with the fixture's handlers) until the test ends.
export async function providerProcess(
  t: TestContext,
  address: string,
  service: string,
  label: string,
  concurrency?: number,
): Promise<Fixture> {
  const args = [address, service, label, ...(concurrency === undefined ? [] : [String(concurrency)])]
  const f = fixture(t, 'provider', args)
  await f.event(1) // 'ready': provide() has resolved, so the server has registered it
  return f
}

export async function topicProcess(t: TestContext, address: string, name: string): Promise<Fixture> {
  const f = fixture(t, 'topics', [address, name])
  await f.event(1) // 'ready'
  return f
}

// Resolves with the rejection's code, or fails if the promise resolves.
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    if (isZStateError(error)) return error.code
    throw error
  }
  throw new Error('expected a rejection')
}

// n clients in this process, closed together by `await using` (before the server's t.after closes
// it, so their goodbyes are answered rather than waited out).
export async function clients<N extends 2 | 3>(
  address: string,
  n: N,
): Promise<{
  clients: N extends 2 ? [Client, Client] : [Client, Client, Client]
  [Symbol.asyncDispose](): Promise<void>
}> {
  const all = await Promise.all(Array.from({ length: n }, (_, i) => connect(address, { name: `c${i}` })))
  return {
    clients: all as N extends 2 ? [Client, Client] : [Client, Client, Client],
    async [Symbol.asyncDispose]() {
      await Promise.all(all.map((client) => client.close()))
    },
  }
}
