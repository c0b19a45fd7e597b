// Endpoint syntax shared by server and client.
import { BlockList, isIP } from 'node:net'
import { invalidArgument } from '../errors.ts'

// Node's BlockList reads every spelling of an address: ::1 written out in full, and IPv4-mapped
// IPv6 (::ffff:127.0.0.1) as the IPv4 address it maps.
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

// Loopback is 127.0.0.0/8, ::1 and localhost; wildcards are not.
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  if (bare === 'localhost') return true
  const family = isIP(bare)
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6')
}

// sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107
// The longest socket file a server makes at ipc://PATH is PATH.topics (docs/protocol.md).
const LONGEST_SUFFIX = '.topics'
const MAX_IPC_PATH_BYTES = MAX_SOCKET_PATH_BYTES - LONGEST_SUFFIX.length

// An ipc path no server can listen at is refused before anything is bound or connected, in words
// that name the path given (not the longest socket file the server would make of it).
export function checkIpcPath(path: string): void {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_IPC_PATH_BYTES)
    throw invalidArgument(
      `ipc path is ${bytes} bytes, over the limit of ${MAX_IPC_PATH_BYTES}: the server's socket files ` +
        `add up to ${LONGEST_SUFFIX.length} bytes to it (PATH${LONGEST_SUFFIX}), and the OS limit is ` +
        `${MAX_SOCKET_PATH_BYTES}: ${path}`,
    )
}

// HOST:PORT of an HTTP listener (the metrics endpoint): an IPv6 host in brackets; PORT 0 picks one.
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (match === null || port > 65_535) return undefined
  return { host: match[1]!, port }
}

// tcp://HOST:PORT with a port libzmq can bind (it would take 99999 as 34463, modulo 65,536), or *.
export function parseTcp(address: string): RegExpExecArray | null {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5}|\*)$/.exec(address)
  return match !== null && match[2] !== '*' && Number(match[2]) > 65_535 ? null : match
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

// The addresses of a list as people write them (ZSTATE_ADDRESS, --address): separated by commas,
// with or without spaces after them (no address holds a space or a comma at either end).
export function addressList(text: string): string[] {
  return text.split(',').map((address) => address.trim())
}

// What connect() accepts: an ipc path or a tcp host and concrete port.
export function checkConnectAddress(address: string): void {
  if (addressSyntax(address, 'connect') !== 'ok')
    throw invalidArgument(`address must be ipc://PATH or tcp://HOST:PORT, got ${address}`)
  if (address.startsWith('ipc://')) checkIpcPath(address.slice('ipc://'.length))
}

// zeromq sockets need the ipv6 option for an IPv6 literal; left on for IPv4 it would report
// IPv4-mapped addresses (tcp://[::ffff:127.0.0.1]:…), so it is set only when needed.
export function isIpv6Endpoint(endpoint: string): boolean {
  return endpoint.startsWith('tcp://[')
}

// An etcd endpoint zstate dials: http://HOST:PORT (HOST a name, an IPv4 address or [IPv6]). No https:
// the gateway has no TLS settings for etcd, and a URL without a port would dial 80.
export function isEtcdEndpoint(url: unknown): boolean {
  if (typeof url !== 'string') return false
  const port = /^http:\/\/(?:\[[0-9a-fA-F:.]+\]|[^:/[\]@]+):(\d{1,5})\/?$/.exec(url)?.[1]
  return port !== undefined && Number(port) > 0 && Number(port) <= 65535
}
