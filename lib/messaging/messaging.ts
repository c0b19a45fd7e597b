// Services and topics for one client (docs/messaging.md): the connection hands over each new link, and
// the client copies these bound methods onto itself.
import type { LinkUser } from '../link/connection.ts'
import type { Link } from '../link/link.ts'
import { call, serviceProxy, services, waitForService } from './calls.ts'
import type { MessagingHost } from './host.ts'
import { Providers } from './providers.ts'
import { Topics } from './topics.ts'
import type { Messaging, RequestOptions } from './types.ts'

export type { MessagingHost } from './host.ts'

// Providers register again with the server of a new link once they have reconnected too: calls wait
// for them this many of its heartbeat periods after the reconnection (as long as the server gives a
// silent provider).
const REREGISTRATION_BEATS = 4

export class ClientMessaging implements Messaging, LinkUser {
  readonly #host: MessagingHost
  readonly #providers: Providers
  readonly #topics: Topics
  #links = 0
  // Until when (Date.now()) the providers of the last server may still be registering again.
  #reregistration = 0
  readonly #reregistrationLeft = (): number => this.#reregistration - Date.now()

  constructor(host: MessagingHost) {
    this.#host = host
    this.#providers = new Providers(host)
    this.#topics = new Topics(host)
  }

  readonly provide: Messaging['provide'] = (name, handlers, options) =>
    this.#providers.provide(name, handlers, options)
  readonly call: Messaging['call'] = (name, method, args, options) =>
    call(this.#host, name, method, args, options, this.#reregistrationLeft) as Promise<never>
  readonly service: Messaging['service'] = (name, options) =>
    serviceProxy(this.#host, name, options, this.#reregistrationLeft)
  // The overloads tell the two shapes apart by `detail`.
  readonly services = ((options?: RequestOptions & { detail?: boolean }) =>
    services(this.#host, options)) as Messaging['services']
  readonly waitForService: Messaging['waitForService'] = (name, options) =>
    waitForService(this.#host, name, options)
  readonly publish: Messaging['publish'] = (topic, message, options) =>
    this.#topics.publish(topic, message, options)
  readonly subscribe: Messaging['subscribe'] = (prefix, options) => this.#topics.subscribe(prefix, options)

  // A new current link (first join or reconnection): pushes, providers and topics move to it.
  attach(link: Link): void {
    if (this.#links++ > 0) this.#reregistration = Date.now() + REREGISTRATION_BEATS * link.hello.heartbeatMs
    link.channel.onPush = (push) => {
      try {
        this.#providers.onPush(link, push)
      } catch (error) {
        process.emitWarning(`zstate: a pushed call could not be handled: ${String(error)}`)
      }
    }
    this.#providers.attach(link)
    this.#topics.attach(link)
  }

  // The connection lost this link.
  detach(link: Link): void {
    this.#topics.detach(link)
  }

  // The client is closing: subscriptions end, nothing registers again.
  close(): void {
    this.#providers.close()
    this.#topics.close()
  }
}
