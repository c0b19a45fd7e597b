// The current link, or the promise of the next one: a request goes to the first, or waits for the
// second within its timeout; once closed, both are ERR_CLOSED.
import { abortable } from '../abort.ts'
import { deferred, type Deferred } from '../deferred.ts'
import { ErrorCode, ZStateError } from '../errors.ts'
import type { Op } from '../protocol/ops.ts'
import { encodeRequest, type ReplyReader } from './channel.ts'
import type { Link } from './link.ts'
import { timeoutSignal } from '../timer-limit.ts'
import { timeoutError } from '../wait.ts'

// What a server that answered HELLO refuses this client with: its key, or its protocol version.
const REFUSALS: ReadonlySet<ErrorCode> = new Set([ErrorCode.UNAUTHORIZED, ErrorCode.PROTOCOL])

export class CurrentLink {
  readonly #requestTimeout: number
  #link: Link | undefined
  #next: Deferred<Link> = deferred<Link>()
  #closed: ZStateError | undefined
  // Why the last attempt to reconnect failed, when the server refused this client (a curve key taken
  // off its list, another protocol version): what a request that waited in vain is told.
  #refused: ZStateError | undefined

  constructor(requestTimeout: number) {
    this.#requestTimeout = requestTimeout
    void this.#next.promise.catch(() => {})
  }

  get link(): Link | undefined {
    return this.#link
  }

  set(link: Link): void {
    this.#link = link
    this.#refused = undefined
    this.#next.resolve(link)
  }

  // Refusals are kept; a server that did not answer or was lost is no refusal (it may only be slow).
  failedAttempt(error: unknown): void {
    this.#refused = error instanceof ZStateError && REFUSALS.has(error.code) ? error : undefined
  }

  // Why the server the client tries to rejoin refuses it; undefined while a link is current.
  get refusal(): ZStateError | undefined {
    return this.#link === undefined ? this.#refused : undefined
  }

  // The link was lost: what comes now waits for the next one.
  clear(): void {
    this.#link = undefined
    this.#next = deferred<Link>()
    void this.#next.promise.catch(() => {})
  }

  close(error: ZStateError): void {
    this.#closed ??= error
    this.#link = undefined
    this.#next.reject(error)
  }

  // The current link, or the next one after a reconnection.
  next(): Promise<Link> {
    if (this.#link !== undefined) return Promise.resolve(this.#link)
    if (this.#closed !== undefined) return Promise.reject(this.#closed)
    return this.#next.promise
  }

  // Sends one request, waiting up to the request timeout for a link if there is none; it then has that
  // timeout again for its reply. A request the server refuses unapplied is resendable (channel.ts).
  // Not async: on a live link (every request but those during a reconnection) the channel's own
  // promise is returned as it is, without the extra turns an async wrapper would add; `read` turns
  // the payload into the caller's value there, so a write keeps one promise alive, not two.
  // A request waiting for the next link is dropped, never sent, once `giveUp` aborts.
  request<T = unknown[]>(
    op: Op,
    args: readonly unknown[],
    read?: ReplyReader<T>,
    giveUp?: AbortSignal,
  ): Promise<T> {
    if (this.#link !== undefined) return this.#link.channel.request(op, args, true, read)
    return this.#requestOnNextLink(op, args, read, giveUp)
  }

  // The request is encoded at once: what the caller changes in its values while it waits is not sent.
  async #requestOnNextLink<T>(
    op: Op,
    args: readonly unknown[],
    read?: ReplyReader<T>,
    giveUp?: AbortSignal,
  ): Promise<T> {
    if (this.#closed !== undefined) throw this.#closed
    return this.#requestEncodedOnNextLink(op, encodeRequest(0, op, args), read, giveUp)
  }

  // request() of a message encodeRequest() made beforehand.
  requestEncoded<T = unknown[]>(op: Op, message: Buffer, read?: ReplyReader<T>): Promise<T> {
    if (this.#link !== undefined) return this.#link.channel.requestEncoded(op, message, true, read)
    return this.#requestEncodedOnNextLink(op, message, read)
  }

  async #requestEncodedOnNextLink<T>(
    op: Op,
    message: Buffer,
    read?: ReplyReader<T>,
    giveUp?: AbortSignal,
  ): Promise<T> {
    if (this.#closed !== undefined) throw this.#closed
    const expiry = timeoutSignal(this.#requestTimeout)
    let link: Link
    try {
      const next = expiry === undefined ? this.#next.promise : abortable(this.#next.promise, expiry)
      link = await (giveUp === undefined ? next : abortable(next, giveUp))
    } catch (error) {
      if (giveUp?.aborted === true || expiry?.aborted !== true || error !== expiry.reason) throw error
      throw timeoutError(
        `request timed out after ${this.#requestTimeout} ms while reconnecting`,
        this.refusal,
      )
    }
    return link.channel.requestEncoded(op, message, true, read)
  }
}
