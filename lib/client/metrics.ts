// Counters behind client.metrics().
import type { Metrics } from './types.ts'

export type { Metrics } from './types.ts'

export function createMetrics(): Metrics {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, gapsRepaired: 0, resyncs: 0, conflicts: 0 }
}
