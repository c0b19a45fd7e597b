import { pack } from 'msgpackr'
import { Publisher } from 'zeromq'
import { nowUs } from '../support/clock.ts'
import { fanoutKey } from '../support/fanout.ts'
import { serveSide } from '../support/processes.ts'
import { itemOf } from '../support/values.ts'

// Baseline publisher of the fan-out benchmark: a PUB that sends each change of a burst as one message
// shaped like a zstate commit of one set (frames 's' and [epoch, [[revision, [[key, 0, value]]]]]),
// encoded as it goes, as fast as send() allows. PUB drops what exceeds its high-water mark.
let publisher: Publisher | undefined

function bound(): Publisher {
  if (publisher === undefined) throw new Error('call bind first')
  return publisher
}

serveSide(
  {
    async bind(endpoint: string, highWaterMark: number) {
      publisher = new Publisher({ sendHighWaterMark: highWaterMark, linger: 0 })
      await publisher.bind(endpoint)
    },
    // Publishes changes first..first+count-1; resolves with the time the first was sent.
    async burst(first: number, count: number) {
      const pub = bound()
      const startUs = nowUs()
      for (let i = first; i < first + count; i++)
        await pub.send(['s', pack(['raw', [[i + 1, [[fanoutKey(i), 0, itemOf(i)]]]]])])
      return startUs
    },
    // The end of a burst (sent until every subscriber has seen it: PUB may drop it too).
    end: (last: number) => bound().send(['e', pack(last)]),
    probe: (token: number) => bound().send(['p', pack(token)]),
  },
  () => publisher?.close(),
)
