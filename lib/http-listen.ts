// The HTTP listeners zstate runs (the /metrics endpoint, the dashboard) are made and start the same
// way: bounded in what idle or slow clients may hold, then listening on HOST:PORT, PORT 0 for a free
// one, saying where they ended up.
import { createServer, type RequestListener, type Server } from 'node:http'

// How long a connection may take to send its whole request (then it is closed with 408), and how
// often Node looks for such connections (its default, 30 s, closed one that sent half a request
// after 30 s, not 10).
const REQUEST_TIMEOUT_MS = 10_000
const TIMEOUT_CHECK_MS = 1000

// A server that holds at most `maxConnections` at once (beyond them Node closes new ones at once),
// none of them for longer than REQUEST_TIMEOUT_MS before its request has arrived, nor idle for
// longer: silent or slow connections cannot use up the process's file descriptors, nor hold the
// listener for long.
export function boundedHttpServer(maxConnections: number, listener: RequestListener): Server {
  const server = createServer(
    { requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
    listener,
  )
  server.maxConnections = maxConnections
  server.headersTimeout = REQUEST_TIMEOUT_MS
  // A connection that never sends a byte has no request to time out: one idle this long (nothing
  // read or written) is closed too. A live feed writes every second.
  server.setTimeout(REQUEST_TIMEOUT_MS)
  return server
}

// Resolves with the listener's origin, `http://HOST:PORT` with the bound port (an IPv6 host in
// brackets); rejects with the listen error, the server closed.
export function listenHttp(server: Server, host: string, port: number): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '')
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => {
      server.close()
      reject(error)
    }
    server.once('error', failed)
    server.listen({ host: bare, port }, () => {
      server.off('error', failed)
      const bound = server.address()
      const actual = typeof bound === 'object' && bound !== null ? bound.port : port
      resolve(`http://${bare.includes(':') ? `[${bare}]` : bare}:${actual}`)
    })
  })
}
