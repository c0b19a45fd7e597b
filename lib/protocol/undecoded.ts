// A value a replica holds as the server published it (a SET_ENCODED change): its MessagePack bytes,
// decoded and checked as any decoded value the first time it is read, and from then on that value.
import { decode } from './codec.ts'
import { adoptDecoded } from './values.ts'

export class Undecoded {
  #bytes: Uint8Array | undefined
  #value: unknown

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }

  get value(): unknown {
    const bytes = this.#bytes
    if (bytes !== undefined) {
      this.#value = adoptDecoded(decode(bytes))
      this.#bytes = undefined
    }
    return this.#value
  }
}

// What a replica's entry holds, as a reader gets it.
export function decoded(held: unknown): unknown {
  return held instanceof Undecoded ? held.value : held
}
