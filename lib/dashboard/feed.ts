// The live feed behind the page, over Server-Sent Events: a reading of the server once a second
// (charts, contexts, services, topics), the change stream as it arrives, and the key list. Every
// buffer is bounded: readings (in number and bytes), changes, pages, and what a slow page may leave unread.
import type { ServerResponse } from 'node:http'
import type { Client } from '../client/types.ts'
import type { Change } from '../client/state-types.ts'
import { KeyIndex, MAX_KEYS, type Encode } from './keys.ts'
import { takeSample, type Reading } from './sample.ts'

/** Readings kept for the charts a newly opened page starts with: 5 minutes. */
export const MAX_SAMPLES = 300
/**
 * Bytes (JSON) of the readings a newly opened page starts with, at most: the newest that fit,
 * each but the last without its services and topics (the page charts only the rest).
 */
export const MAX_HISTORY_BYTES = 1024 * 1024
/** Changes kept for a newly opened page, and sent at most in one batch. */
export const MAX_CHANGES = 200
/** Pages connected at once; one more gets 503. */
export const MAX_PAGES = 16
const SAMPLE_MS = 1000
// Changes arriving within this window go out as one batch.
const BATCH_MS = 50
// A page that leaves this much unread (bytes) is disconnected.
const MAX_UNREAD = 4 * 1024 * 1024

/** The feed's content type. */
export const EVENT_STREAM = 'text/event-stream; charset=utf-8'

/** A change as the page gets it: the value as JSON text, null when deleted. */
export interface ChangeRow {
  readonly revision: number
  readonly key: string
  readonly json: string | null
  readonly time: number
}

// A reading as a chart needs it, kept as the JSON a page gets.
interface ChartPoint {
  readonly json: string
  readonly bytes: number
}

interface Page {
  readonly response: ServerResponse
  readonly prefix: string
  keysAt: number
  // How many changes had been recorded when the page last got changes (its hello included).
  seen: number
}

export class Feed {
  readonly #client: Client
  readonly #keys: KeyIndex
  readonly #pages = new Set<Page>()
  readonly #closing = new AbortController()
  #history: ChartPoint[] = []
  #historyBytes = 0
  #changes: ChangeRow[] = []
  // Every change recorded so far, counted: the batch holds the last of them.
  #recorded = 0
  #batch: ChangeRow[] = []
  #batchTimer: NodeJS.Timeout | undefined
  #last: Reading | undefined
  #sampling: Promise<void> | undefined
  readonly #ticker: NodeJS.Timeout
  readonly #watching: Promise<void>

  constructor(client: Client, encode: Encode) {
    this.#client = client
    this.#keys = new KeyIndex(client.state, encode)
    this.#watching = this.#watch()
    this.#ticker = setInterval(() => this.#tick(), SAMPLE_MS)
    this.#sampleNow()
  }

  get pages(): number {
    return this.#pages.size
  }

  // Streams to one page until it goes away; false (nothing sent) when MAX_PAGES are connected.
  attach(response: ServerResponse, prefix: string): boolean {
    if (this.#pages.size >= MAX_PAGES || this.#closing.signal.aborted) return false
    const page: Page = { response, prefix, keysAt: -1, seen: this.#recorded }
    this.#pages.add(page)
    response.on('close', () => this.#pages.delete(page))
    response.writeHead(200, {
      'Content-Type': EVENT_STREAM,
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    })
    const limits = { samples: MAX_SAMPLES, changes: MAX_CHANGES, keys: MAX_KEYS }
    const rest = JSON.stringify({
      joined: this.#keys.joined,
      limits,
      changes: this.#changes.filter((change) => change.key.startsWith(prefix)).slice(-MAX_CHANGES),
    })
    // The readings are JSON already: spliced in rather than parsed and written again.
    this.#write(page, 'hello', `{"samples":[${this.#helloSamples().join(',')}],${rest.slice(1)}`)
    this.#sendKeys(page)
    // A fresh reading rather than one up to a second old.
    this.#sampleNow()
    return true
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return
    this.#closing.abort()
    clearInterval(this.#ticker)
    clearTimeout(this.#batchTimer)
    for (const page of this.#pages) page.response.end()
    this.#pages.clear()
    await Promise.all([this.#watching, this.#sampling])
  }

  #tick(): void {
    this.#sampleNow()
    for (const page of this.#pages) if (page.keysAt !== this.#client.state.revision) this.#sendKeys(page)
  }

  // One reading at a time: a call while one is running is covered by it.
  #sampleNow(): void {
    if (this.#sampling !== undefined || this.#closing.signal.aborted) return
    this.#sampling = this.#sample().finally(() => (this.#sampling = undefined))
  }

  async #sample(): Promise<void> {
    try {
      this.#last = await takeSample(this.#client, this.#last)
    } catch (error) {
      if (!this.#closing.signal.aborted) this.#broadcast('problem', { message: (error as Error).message })
      return
    }
    if (this.#closing.signal.aborted) return
    const { services: _services, otherServices: _others, topics: _topics, ...point } = this.#last.sample
    const json = JSON.stringify(point)
    const bytes = Buffer.byteLength(json)
    this.#history.push({ json, bytes })
    this.#historyBytes += bytes
    // Trimmed only once past twice a bound (a copy per push would cost more): a page gets the bounds.
    if (this.#history.length > 2 * MAX_SAMPLES || this.#historyBytes > 2 * MAX_HISTORY_BYTES) {
      this.#history = newest(this.#history, MAX_SAMPLES, MAX_HISTORY_BYTES)
      this.#historyBytes = this.#history.reduce((total, { bytes }) => total + bytes, 0)
    }
    this.#broadcast('sample', this.#last.sample)
  }

  // What a page opens with: the last reading in full after the chart points before it, within the bounds.
  #helloSamples(): string[] {
    if (this.#last === undefined) return []
    const json = JSON.stringify(this.#last.sample)
    const earlier = this.#history.slice(0, -1)
    const left = MAX_HISTORY_BYTES - Buffer.byteLength(json)
    return [...newest(earlier, MAX_SAMPLES - 1, left).map((point) => point.json), json]
  }

  // Follows every change; after a resync (ERR_COMPACTED) or an overflow, starts over from the replica.
  async #watch(): Promise<void> {
    const { signal } = this.#closing
    while (!signal.aborted) {
      const changes = this.#client.state.watch({ signal })
      this.#keys.reset()
      try {
        for await (const change of changes) this.#record(change)
        return // the client closed
      } catch (error) {
        if (signal.aborted) return
        this.#broadcast('problem', { message: `change stream restarted: ${(error as Error).message}` })
      }
    }
  }

  #record(change: Change): void {
    this.#keys.record(change)
    const row: ChangeRow = {
      revision: change.revision,
      key: change.key,
      json: change.deleted ? null : this.#keys.json(change.value),
      time: Date.now(),
    }
    this.#changes.push(row)
    this.#recorded++
    if (this.#changes.length > 2 * MAX_CHANGES) this.#changes = this.#changes.slice(-MAX_CHANGES)
    this.#batch.push(row)
    this.#batchTimer ??= setTimeout(() => this.#flush(), BATCH_MS)
  }

  #flush(): void {
    this.#batchTimer = undefined
    const all = this.#batch
    const before = this.#recorded - all.length
    this.#batch = []
    for (const page of this.#pages) {
      // A page that opened during the batch got its first changes in its hello.
      const unseen = all.slice(Math.max(0, page.seen - before))
      page.seen = this.#recorded
      const batch = unseen.slice(-MAX_CHANGES)
      const skipped = unseen.length - batch.length
      const rows = batch.filter((change) => change.key.startsWith(page.prefix))
      if (rows.length > 0 || skipped > 0) this.#send(page, 'changes', { rows, skipped })
    }
  }

  #sendKeys(page: Page): void {
    const list = this.#keys.list(page.prefix)
    page.keysAt = list.revision
    this.#send(page, 'keys', { ...list, joined: this.#keys.joined })
  }

  // Written once for every page.
  #broadcast(event: string, data: unknown): void {
    const json = JSON.stringify(data)
    for (const page of this.#pages) this.#write(page, event, json)
  }

  #send(page: Page, event: string, data: unknown): void {
    this.#write(page, event, JSON.stringify(data))
  }

  #write(page: Page, event: string, json: string): void {
    const { response } = page
    if (response.writableLength > MAX_UNREAD) {
      this.#pages.delete(page)
      response.destroy()
      return
    }
    response.write(`event: ${event}\ndata: ${json}\n\n`)
  }
}

// The newest of `points` that fit `count` and `bytes`.
function newest(points: readonly ChartPoint[], count: number, bytes: number): ChartPoint[] {
  let from = points.length
  while (from > 0 && points.length - from < count && bytes >= points[from - 1]!.bytes)
    bytes -= points[--from]!.bytes
  return points.slice(from)
}
