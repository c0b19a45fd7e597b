// Counters behind client.metrics().
export interface Metrics {
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  gapsRepaired: number
  resyncs: number
  conflicts: number
}

export function createMetrics(): Metrics {
  return { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, gapsRepaired: 0, resyncs: 0, conflicts: 0 }
}
