// Numbers a server gives out (session numbers, provider and call ids) start at a random base per
// run: a multiple of 2²¹ below 2⁵³, so that one from an earlier run of the server (a restart, on a
// data dir or not) names nothing in this one, and 2²¹ of them per run stay safe integers.
import { randomInt } from 'node:crypto'

export function runSerialBase(): number {
  return randomInt(1, 2 ** 31) * 2 ** 21
}
