// A listing that costs the server in proportion to what it lists (SERVICES, STATS): built afresh when
// it may have changed, unless building it is costly, and then at most once per SPACING times what the
// last build took, served as it was in between. Clients asking again and again then get at most
// about 1 / SPACING of the loop, however large the registry (an outside audit stalled other
// clients past their heartbeat with SERVICES and STATS of a full one).
import { encode } from '../protocol/codec.ts'

// Builds cheaper than this are always fresh: a small server's listings are exact.
const CHEAP_MS = 2
const SPACING = 10

export class ThrottledListing {
  readonly #build: () => unknown
  #encoded: Buffer | undefined
  #changed = true
  #builtAt = 0
  #cost = 0

  // `build` makes the listing; encoded once per build.
  constructor(build: () => unknown) {
    this.#build = build
  }

  // What it lists may have changed.
  changed(): void {
    this.#changed = true
  }

  get encoded(): Buffer {
    const now = performance.now()
    if (
      this.#encoded === undefined ||
      (this.#changed && (this.#cost < CHEAP_MS || now - this.#builtAt >= this.#cost * SPACING))
    ) {
      this.#encoded = encode(this.#build())
      this.#changed = false
      this.#builtAt = now
      this.#cost = performance.now() - now
    }
    return this.#encoded
  }
}
