// Counters per topic for STATS, for the topics published most recently: a client that publishes on
// endless new topics moves the oldest out rather than growing the server's memory.
import { MAX_TRACKED_TOPICS, type TopicStats } from '../protocol/server-stats.ts'
import { ownString } from './own-string.ts'

interface Tally {
  // The topic, copied once: a move to the end re-inserts it, not the publication's own string.
  readonly topic: string
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
      tally = { topic: ownString(topic), messages: 0, bytes: 0, lastPublished: 0 }
      this.#topics.set(tally.topic, tally)
    } else if (tally !== this.#latest) {
      // Moved to the end; a run of messages on one topic skips the move.
      this.#topics.delete(topic)
      this.#topics.set(tally.topic, tally)
    }
    this.#latest = tally
    tally.messages++
    tally.bytes += bytes
    tally.lastPublished = Date.now()
  }

  // Most recently published first.
  stats(): TopicStats[] {
    return [...this.#topics.values()].reverse().map((tally) => ({ ...tally }))
  }
}
