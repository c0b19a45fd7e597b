// Which failures end a client's first join (lib/link/connection.ts). A server that was lost or did
// not answer is tried again until the join's timeout, as a reconnection does: one that restarts
// while the client joins loses its HELLO, or forgets the session half joined. A refusal (a key the
// server does not authorize, another protocol, a bad `replicate`) ends the join once every address
// has refused, so at once with one address. A CURVE handshake that the server broke off counts only
// when it happens again: a server that dies mid-handshake breaks it off just the same.
import { ErrorCode, isZStateError } from '../errors.ts'
import { mayBeBrokenOff } from './handshake.ts'

// Handshakes broken off in a row by one address that make a refusal.
const BROKEN_OFF = 3

export class JoinVerdicts {
  readonly #addresses: readonly string[]
  // Refusals in a row by address, and whether the last was a handshake broken off.
  readonly #refused = new Map<string, { times: number; brokenOff: boolean }>()
  // The last refusal, which a join that runs out of time names.
  #last: Error | undefined
  // The server of the attempt under way, once it answered HELLO: its join (a snapshot of the state)
  // may take long, but it is no silent server.
  #answered: string | undefined

  constructor(addresses: readonly string[]) {
    this.#addresses = addresses
  }

  attempting(): void {
    this.#answered = undefined
  }

  answered(address: string): void {
    this.#answered = address
  }

  // Why a join that ran out of `timeout` ms did not work.
  timedOut(timeout: number): string {
    const addresses = this.#addresses.join(', ')
    if (this.#answered !== undefined)
      return (
        `connect: ${this.#answered} answered, but joining it (its snapshot of the state) took longer than ` +
        `${timeout} ms: a replica of fewer keys (the replicate option) joins sooner`
      )
    if (this.#last === undefined) return `connect: no answer from ${addresses} within ${timeout} ms`
    return `connect: no server of ${addresses} let this client join within ${timeout} ms; the last refused it: ${this.#last.message}`
  }

  // An attempt at `address` failed with `error`: throws it when the join ends with it; true when
  // it was a refusal (a server answered).
  failed(address: string, error: unknown): boolean {
    if (isLost(error)) {
      this.#refused.delete(address)
      return false
    }
    const times = (this.#refused.get(address)?.times ?? 0) + 1
    this.#refused.set(address, { times, brokenOff: mayBeBrokenOff(error) })
    this.#last = error as Error
    if (this.#addresses.every((each) => this.#refusedBy(each))) throw error
    return true
  }

  #refusedBy(address: string): boolean {
    const refused = this.#refused.get(address)
    return refused !== undefined && refused.times >= (refused.brokenOff ? BROKEN_OFF : 1)
  }
}

// No answer in time (the attempt's own bound, or a request's), or a server lost on the way.
function isLost(error: unknown): boolean {
  if (isZStateError(error)) return error.code === ErrorCode.DISCONNECTED || error.code === ErrorCode.TIMEOUT
  return error instanceof DOMException && error.name === 'TimeoutError'
}
