import { hrtime } from 'node:process'

// Microseconds on CLOCK_MONOTONIC, which every process on the machine shares, so a timestamp taken in
// one process can be subtracted from one taken in another (one-way latency without a round trip).
export function nowUs(): number {
  return Number(hrtime.bigint()) / 1e3
}
