// client.status(): every iterator gets every lifecycle event from its creation on.
import { QueuedIterator } from '../queued-iterator.ts'
import type { StatusEvent } from './types.ts'

export type { StatusEvent } from './types.ts'

export class StatusEvents {
  readonly #streams = new Set<QueuedIterator<StatusEvent>>()
  #closed = false

  emit(type: StatusEvent['type']): void {
    if (type === 'closed') this.#closed = true
    for (const stream of this.#streams) {
      stream.push({ type })
      if (type === 'closed') stream.end()
    }
  }

  // Unbounded, as lifecycle events are few: at most a handful per reconnection.
  iterate(): QueuedIterator<StatusEvent> {
    const stream = new QueuedIterator<StatusEvent>({ onEnd: () => this.#streams.delete(stream) })
    if (!this.#closed) this.#streams.add(stream)
    else {
      stream.push({ type: 'closed' })
      stream.end()
    }
    return stream
  }
}
