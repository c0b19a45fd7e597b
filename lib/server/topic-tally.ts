// Counters per topic for STATS, for the topics published most recently: a client that publishes on
// endless new topics moves the oldest out rather than growing the server's memory.
import { MAX_TRACKED_TOPICS, type TopicStats } from '../protocol/server-stats.ts'
import { ownString } from './own-string.ts'

interface Tally {
  messages: number
  bytes: number
  lastPublished: number
}

export class TopicTally {
  // In order of last publication, oldest first (a Map keeps insertion order).
  readonly #topics = new Map<string, Tally>()
  #latest: Tally | undefined

  count(topic: string, bytes: number): void {
    let tally = this.#topics.get(topic)
    if (tally === undefined) {
      if (this.#topics.size >= MAX_TRACKED_TOPICS) this.#topics.delete(this.#topics.keys().next().value!)
      tally = { messages: 0, bytes: 0, lastPublished: 0 }
      this.#topics.set(ownString(topic), tally)
    } else if (tally !== this.#latest) {
      // Moved to the end; a run of messages on one topic skips the move.
      this.#topics.delete(topic)
      this.#topics.set(ownString(topic), tally)
    }
    this.#latest = tally
    tally.messages++
    tally.bytes += bytes
    tally.lastPublished = Date.now()
  }

  // Most recently published first.
  stats(): TopicStats[] {
    return [...this.#topics].reverse().map(([topic, tally]) => ({ topic, ...tally }))
  }
}
