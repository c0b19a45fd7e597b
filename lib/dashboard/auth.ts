// Who may read the dashboard: only requests that carry its token. Loopback alone is not enough: every
// user of the machine reaches it, where the state's own ipc socket admits only its owner (and a web
// page elsewhere could reach it by DNS rebinding).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isLoopbackHost } from '../protocol/address.ts'

// True for the hosts only this machine can reach: what the state sockets count as loopback, and
// also the names a browser keeps on this machine (*.localhost).
export function isLoopback(host: string): boolean {
  return isLoopbackHost(host) || host.endsWith('.localhost')
}

// Whether one request carries the token (Authorization: Bearer T, the scheme in any case, or ?token=T).
export function authorized(request: IncomingMessage, url: URL, token: string): boolean {
  const bearer = /^bearer +(.*)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim()
  const offered = bearer ?? url.searchParams.get('token')
  return offered !== null && sameSecret(offered, token)
}

// Constant time whatever the lengths: both sides are hashed to 32 bytes first.
function sameSecret(offered: string, token: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()
  return timingSafeEqual(digest(offered), digest(token))
}
