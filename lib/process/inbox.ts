// A child's messages from its parent, held until the job's runtime listens: it listens only once it
// knows what the job needs (lib/process/runtime.ts), and by then the parent may have sent 'end' (a
// map that others finished) or 'abort'.
export class Inbox<M> {
  #listener: ((message: M) => void) | undefined
  readonly #held: M[] = []

  deliver(message: M): void {
    if (this.#listener !== undefined) this.#listener(message)
    else this.#held.push(message)
  }

  // One listener: the runtime of the job.
  listen(listener: (message: M) => void): void {
    this.#listener = listener
    for (const message of this.#held.splice(0)) listener(message)
  }
}
