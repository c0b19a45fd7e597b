// Where a zstate state lives in etcd, under its prefix (docs/scale-out.md "Layout"):
//   <prefix>k/<key>  each key's value: a header byte, then MessagePack (0: the value; 1: [lease, value])
//   <prefix>_tx      rewritten by every commit: [gatewayId, write, leases] (who made it, for the ack)
//   <prefix>_ks      rewritten by every commit that creates or deletes a key: key-space reads compare it
//   <prefix>_g/<id>  a gateway's fence: its writes compare it, and it is moved when one got no answer
//   <prefix>_gw/<id> a live gateway's address, under its lease: gateways find each other there
import { encode } from '../../protocol/codec.ts'
import { readLease } from '../../protocol/leases.ts'
import { decodeStrict, isUtf8Text } from '../../protocol/strict-decode.ts'
import { adoptDecoded, checkKey } from '../../protocol/values.ts'
import type { WireLease } from '../../protocol/ops.ts'

const PLAIN = 0
const LEASED = 1

export class Layout {
  readonly prefix: string
  readonly keys: Buffer
  readonly keysEnd: Buffer
  readonly tx: Buffer
  readonly keySpace: Buffer
  readonly gateways: Buffer
  readonly gatewaysEnd: Buffer

  constructor(prefix: string) {
    this.prefix = prefix
    this.keys = Buffer.from(`${prefix}k/`)
    this.keysEnd = rangeEnd(this.keys)
    this.tx = Buffer.from(`${prefix}_tx`)
    this.keySpace = Buffer.from(`${prefix}_ks`)
    this.gateways = Buffer.from(`${prefix}_gw/`)
    this.gatewaysEnd = rangeEnd(this.gateways)
  }

  fence(gateway: string): Buffer {
    return Buffer.from(`${this.prefix}_g/${gateway}`)
  }

  gateway(id: string): Buffer {
    return Buffer.concat([this.gateways, Buffer.from(id)])
  }

  // The gateway id of an etcd key under <prefix>_gw/; undefined for anything else.
  gatewayOf(etcdKey: Buffer): string | undefined {
    return under(etcdKey, this.gateways)
  }

  key(key: string): Buffer {
    return Buffer.concat([this.keys, Buffer.from(key)])
  }

  // etcd's range of the zstate keys that start with `prefix` ('' for every key): keys are stored as
  // their UTF-8 bytes, so their order and prefixes are etcd's.
  range(prefix: string): { key: Buffer; range_end: Buffer } {
    const key = this.key(prefix)
    return { key, range_end: rangeEnd(key) }
  }

  // The zstate key of an etcd key under <prefix>k/; undefined for anything else. One that no zstate
  // key could be (not UTF-8, so read lossily two would share a name; empty; too long) throws.
  keyOf(etcdKey: Buffer): string | undefined {
    const key = under(etcdKey, this.keys)
    if (key === undefined) return undefined
    if (!isUtf8Text(etcdKey, this.keys.length, etcdKey.length)) throw new Error('its key is not UTF-8 text')
    checkKey(key)
    return key
  }
}

export function encodeValue(value: unknown, lease: WireLease | undefined): Buffer {
  return lease === undefined
    ? Buffer.concat([Buffer.of(PLAIN), encode(value)])
    : Buffer.concat([Buffer.of(LEASED), encode([lease, value])])
}

// A stored value and its lease. Values under the prefix are checked like a peer's frame, and against
// the value model, as a client's write is: etcd is shared, and something other than a gateway may
// have written there (a value the clients cannot read would stop every replica at its commit).
export function decodeValue(bytes: Buffer): { value: unknown; lease: WireLease | undefined } {
  const decoded = decodeStrict(bytes.subarray(1))
  if (bytes[0] === PLAIN) return { value: adoptDecoded(decoded), lease: undefined }
  if (bytes[0] === LEASED && Array.isArray(decoded) && decoded.length === 2) {
    const lease = readLease(decoded[0])
    if (lease === undefined) throw new Error('a malformed lease')
    return { value: adoptDecoded(decoded[1]), lease }
  }
  throw new Error(`not a zstate value (header byte ${String(bytes[0])})`)
}

// What follows `prefix` in `etcdKey`, or undefined when it does not start with it.
function under(etcdKey: Buffer, prefix: Buffer): string | undefined {
  if (etcdKey.length < prefix.length || etcdKey.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0)
    return undefined
  return etcdKey.toString('utf8', prefix.length)
}

// The end of etcd's range of every key that starts with `prefix`.
function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.of(0)
}
