// The HTTP listeners zstate runs (the /metrics endpoint, the dashboard) start the same way: listen on
// HOST:PORT, PORT 0 for a free one, and say where they ended up.
import type { Server } from 'node:http'

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
