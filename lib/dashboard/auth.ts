// Who may read the dashboard: with a token, only requests that carry it; without one, only requests
// addressed to a loopback name, so that a web page elsewhere cannot reach it by DNS rebinding.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isLoopbackHost } from '../protocol/address.ts'

export type Verdict = 'ok' | 'unauthorized' | 'forbidden'

// True for the hosts only this machine can reach: what the state sockets count as loopback, and
// also the names a browser keeps on this machine (*.localhost).
export function isLoopback(host: string): boolean {
  return isLoopbackHost(host) || host.endsWith('.localhost')
}

// Checks one request against the token (Authorization: Bearer T, or ?token=T).
export function authorize(request: IncomingMessage, url: URL, token: string | undefined): Verdict {
  if (token === undefined) return isLoopback(hostName(request.headers.host)) ? 'ok' : 'forbidden'
  const header = request.headers.authorization
  const bearer = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined
  const offered = bearer ?? url.searchParams.get('token')
  return offered !== null && sameSecret(offered, token) ? 'ok' : 'unauthorized'
}

// Constant time whatever the lengths: both sides are hashed to 32 bytes first.
function sameSecret(offered: string, token: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()
  return timingSafeEqual(digest(offered), digest(token))
}

// The host name of a Host header, without its port.
function hostName(header: string | undefined): string {
  if (header === undefined) return ''
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1)
  const colon = header.lastIndexOf(':')
  return colon === -1 ? header : header.slice(0, colon)
}
