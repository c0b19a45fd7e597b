// client.status(): every iterator gets every lifecycle event from its creation on.
export type StatusEvent = { type: 'disconnected' | 'reconnected' | 'reset' | 'closed' }

export class StatusEvents {
  readonly #queues = new Set<{ events: StatusEvent[]; wake: (() => void) | undefined }>()
  #closed = false

  emit(type: StatusEvent['type']): void {
    if (type === 'closed') this.#closed = true
    for (const queue of this.#queues) {
      queue.events.push({ type })
      queue.wake?.()
    }
  }

  iterate(): AsyncIterableIterator<StatusEvent> {
    const queue: { events: StatusEvent[]; wake: (() => void) | undefined } = { events: [], wake: undefined }
    if (this.#closed) queue.events.push({ type: 'closed' })
    this.#queues.add(queue)
    const done = (): IteratorResult<StatusEvent> => {
      this.#queues.delete(queue)
      return { done: true, value: undefined }
    }
    const iterator: AsyncIterableIterator<StatusEvent> = {
      next: async () => {
        while (queue.events.length === 0) {
          if (!this.#queues.has(queue)) return done()
          await new Promise<void>((resolve) => (queue.wake = resolve))
          queue.wake = undefined
        }
        const event = queue.events.shift()!
        if (event.type === 'closed') this.#queues.delete(queue)
        return { done: false, value: event }
      },
      return: async () => done(),
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }
}
