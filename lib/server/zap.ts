// The ZAP handler (ZeroMQ RFC 27): libzmq asks it, over inproc, whether a peer that completed the
// CURVE handshake may go on. One per process, since libzmq takes the first handler bound in a
// context: each curve server registers its ZAP domain with the client keys it accepts.
import { Router } from '../zmq.ts'
import { decodeZ85 } from '../protocol/z85.ts'

const ENDPOINT = 'inproc://zeromq.zap.01'

// Which client keys (raw 32 bytes, as hex) a domain accepts; 'any': every key, encrypted all the same.
export type Accepted = ReadonlySet<string> | 'any'

const domains = new Map<string, Accepted>()
// Bound once and never closed: closing a ZAP handler while servers' sockets still tear down their
// pipes to it trips an assertion in libzmq (pipe.cpp, seen here), and a later server binds again.
let router: Router | undefined
// Whether a receive is pending: only while some domain is registered, and it ends by itself within
// IDLE_MS of the last one leaving, so the handler never keeps the process alive.
let answering = false
const IDLE_MS = 500

// Registers a server's domain; the returned function unregisters it.
export async function registerZapDomain(
  domain: string,
  authorizedKeys: readonly string[] | 'any',
): Promise<() => void> {
  domains.set(
    domain,
    authorizedKeys === 'any' ? 'any' : new Set(authorizedKeys.map((key) => decodeZ85(key)!.toString('hex'))),
  )
  if (router === undefined) {
    const bound = new Router({ linger: 0, receiveTimeout: IDLE_MS })
    await bound.bind(ENDPOINT)
    router = bound
  }
  if (!answering) void answer(router)
  return () => {
    domains.delete(domain)
  }
}

// Request: [routing, '', version, requestId, domain, address, identity, mechanism, ...credentials];
// reply: [routing, '', version, requestId, statusCode, statusText, userId, metadata].
async function answer(socket: Router): Promise<void> {
  answering = true
  try {
    while (domains.size > 0) {
      let frames: Buffer[]
      try {
        frames = await socket.receive()
      } catch {
        continue // nothing within IDLE_MS: look whether anyone still needs answers
      }
      const [routing, empty, version, requestId, domain, , , mechanism, key] = frames
      if (routing === undefined || empty === undefined || version === undefined || requestId === undefined)
        continue
      const accepted = domains.get(domain?.toString() ?? '')
      const ok =
        accepted !== undefined &&
        mechanism?.toString() === 'CURVE' &&
        key !== undefined &&
        (accepted === 'any' || accepted.has(key.toString('hex')))
      await socket.send([
        routing,
        empty,
        version,
        requestId,
        ok ? '200' : '400',
        ok ? 'OK' : 'not authorized',
        '',
        '',
      ])
    }
  } finally {
    answering = false
  }
}
