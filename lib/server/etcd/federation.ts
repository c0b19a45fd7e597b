// Services and topics across the gateways of one state (docs/scale-out.md "Services and topics"):
// each gateway provides, on every other gateway, the services its own clients provide there (a call
// that reaches such a proxy is forwarded home and answered by a local provider), and passes what its
// clients publish on to the others. Gateways find each other under <prefix>_gw/ in etcd. The links
// are ordinary zstate clients that replicate nothing; their sessions carry GATEWAY_LINK in their
// name, which is how a gateway tells a peer's proxies and messages from its own clients'.
import { connect } from '../../connect.ts'
import type { Client } from '../../client/types.ts'
import { passOn } from '../../messaging/remote.ts'
import type { ProviderHandle } from '../../messaging/types.ts'

import { GATEWAY_LINK } from '../sessions.ts'

// What this gateway's own clients provide of one service: what a proxy on a peer registers.
export interface Offer {
  readonly methods: readonly string[]
  readonly concurrency: number
}

interface Peer {
  readonly client: Promise<Client>
  // The proxies registered there, by service, with the offer each was made from.
  readonly proxies: Map<string, { offer: string; handle: Promise<ProviderHandle> }>
}

// A forwarded call may take as long as its caller allows; the caller's own timeout ends it.
const FORWARDED_CALL_MS = 2 ** 31 - 1

export class Federation {
  readonly #id: string
  // The address this gateway registers: a registration of it is an earlier run's, here, not a peer.
  readonly #advertised: string
  readonly #home: Promise<Client>
  // One link per address, however many registrations name it (each would be a copy of every
  // message): a gateway restarted there registers anew while the registration of its earlier run
  // lives on until its lease ends, in whatever order they are seen.
  readonly #peers = new Map<string, Peer>()
  // The address of each registration.
  readonly #addresses = new Map<string, string>()
  #offers = new Map<string, Offer>()
  #closed = false

  // `home`: this gateway's own address, where forwarded calls go; `advertised`: the one it registers.
  constructor(id: string, home: string, advertised: string) {
    this.#id = id
    this.#advertised = advertised
    this.#home = this.#link(home)
  }

  // A gateway registered (address) or went away (undefined).
  peer(id: string, address: string | undefined): void {
    if (id === this.#id || this.#closed) return
    if (address === undefined) return this.#gone(id)
    if (address === this.#advertised || this.#addresses.has(id)) return
    this.#addresses.set(id, address)
    if (this.#peers.has(address)) return
    const peer: Peer = { client: this.#link(address), proxies: new Map() }
    void peer.client.catch(() => {
      if (this.#peers.get(address) !== peer) return
      this.#peers.delete(address)
      for (const [each, at] of this.#addresses) if (at === address) this.#addresses.delete(each)
    })
    this.#peers.set(address, peer)
    this.#sync(peer)
  }

  // The link to its address goes with the last registration that names it.
  #gone(id: string): void {
    const address = this.#addresses.get(id)
    if (address === undefined) return
    this.#addresses.delete(id)
    for (const at of this.#addresses.values()) if (at === address) return
    const peer = this.#peers.get(address)!
    this.#peers.delete(address)
    void peer.client.then((client) => client.close()).catch(() => {})
  }

  // What this gateway's own clients provide now.
  offers(offers: Map<string, Offer>): void {
    this.#offers = offers
    for (const peer of this.#peers.values()) this.#sync(peer)
  }

  // A message one of this gateway's own clients published: every peer publishes it too.
  published(topic: string, message: unknown): void {
    for (const peer of this.#peers.values())
      void peer.client.then((client) => client.publish(topic, message)).catch(() => {})
  }

  async close(): Promise<void> {
    this.#closed = true
    const links = [this.#home, ...[...this.#peers.values()].map((peer) => peer.client)]
    this.#peers.clear()
    this.#addresses.clear()
    await Promise.all(links.map((link) => link.then((client) => client.close()).catch(() => {})))
  }

  // A peer's proxies follow the offers: new services provided, changed ones provided again, gone ones withdrawn.
  #sync(peer: Peer): void {
    for (const [service, proxy] of peer.proxies) {
      const offer = this.#offers.get(service)
      if (offer !== undefined && describe(offer) === proxy.offer) continue
      peer.proxies.delete(service)
      void proxy.handle.then((handle) => handle.close()).catch(() => {})
    }
    for (const [service, offer] of this.#offers) {
      if (peer.proxies.has(service)) continue
      const handle = peer.client.then((client) =>
        client.provide(service, this.#forwarder(service, offer), { concurrency: offer.concurrency }),
      )
      handle.catch(() => peer.proxies.delete(service))
      peer.proxies.set(service, { offer: describe(offer), handle })
    }
  }

  // Handlers that pass each call home, where only this gateway's own providers take it.
  #forwarder(service: string, offer: Offer): Record<string, (...args: unknown[]) => Promise<unknown>> {
    const handlers: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
    for (const method of offer.methods)
      handlers[method] = async (...args) =>
        (await this.#home).call(service, method, args, { timeout: FORWARDED_CALL_MS }).catch(passOn)
    return handlers
  }

  #link(address: string): Promise<Client> {
    return connect(address, { name: `${GATEWAY_LINK} ${this.#id}`, replicate: [] })
  }
}

function describe(offer: Offer): string {
  return `${offer.concurrency} ${[...offer.methods].sort().join(',')}`
}
