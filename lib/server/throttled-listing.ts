// A listing that costs the server in proportion to what it lists (SERVICES, STATS): built afresh when
// it may have changed, unless it is large, and then at most once per SPACING times what the last
// build took, served as it was in between. Clients asking again and again then get at most about
// 1 / SPACING of the loop, however large the registry (an outside audit stalled other clients past
// their heartbeat with SERVICES and STATS of a full one). Small listings are always exact. Large
// goes by size, not by the time a build took: a pause of the loop during one (a collection, another
// process running) would make a small listing stale too.
import { encode } from '../protocol/codec.ts'

// Listings smaller than this, encoded, are always fresh.
const LARGE_BYTES = 64 << 10
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

  // The listing where it changes with every request (counters): built afresh unless it is large.
  get latest(): Buffer {
    this.#changed = true
    return this.encoded
  }

  get encoded(): Buffer {
    const now = performance.now()
    if (
      this.#encoded === undefined ||
      (this.#changed && (this.#encoded.length < LARGE_BYTES || now - this.#builtAt >= this.#cost * SPACING))
    ) {
      this.#encoded = encode(this.#build())
      this.#changed = false
      this.#builtAt = now
      this.#cost = performance.now() - now
    }
    return this.#encoded
  }
}
