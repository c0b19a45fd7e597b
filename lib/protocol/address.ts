// Endpoint syntax shared by server and client.
import { invalidArgument } from '../errors.ts'

// Loopback is 127.0.0.0/8, ::1 and localhost; wildcards are not.
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
}

// HOST:PORT of an HTTP listener (the metrics endpoint): an IPv6 host in brackets; PORT 0 picks one.
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (match === null || port > 65_535) return undefined
  return { host: match[1]!, port }
}

export function parseTcp(address: string): RegExpExecArray | null {
  return /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+|\*)$/.exec(address)
}

// What is wrong with an address as written, before anything is bound or connected: `scheme` for
// anything but ipc://PATH and tcp://HOST:PORT, `port` for tcp://HOST:* where a client needs the
// port the server bound. The command line words each as a usage error.
export function addressSyntax(address: string, use: 'bind' | 'connect'): 'ok' | 'scheme' | 'port' {
  if (address.startsWith('ipc://')) return address.length > 'ipc://'.length ? 'ok' : 'scheme'
  const port = parseTcp(address)?.[2]
  if (port === undefined) return 'scheme'
  return port === '*' && use === 'connect' ? 'port' : 'ok'
}

// What connect() accepts: an ipc path or a tcp host and concrete port.
export function checkConnectAddress(address: string): void {
  if (addressSyntax(address, 'connect') !== 'ok')
    throw invalidArgument(`address must be ipc://PATH or tcp://HOST:PORT, got ${address}`)
}

// zeromq sockets need the ipv6 option for an IPv6 literal; left on for IPv4 it would report
// IPv4-mapped addresses (tcp://[::ffff:127.0.0.1]:…), so it is set only when needed.
export function isIpv6Endpoint(endpoint: string): boolean {
  return endpoint.startsWith('tcp://[')
}
