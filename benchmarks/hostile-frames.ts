import { Dealer } from 'zeromq'
import { encode } from '../lib/protocol/codec.ts'
import { Op, PROTOCOL_VERSION } from '../lib/protocol/ops.ts'
import { nowUs } from './support/clock.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { percentile } from './support/stats.ts'
import { startStatePair, type BenchClient } from './support/zstate.ts'

// How much one client's hostile frames delay another client's awaited writes: the victim's latency
// while a raw DEALER sends the frames the hardening issue measured (1.3M PINGs, 100k HELLOs, 7,500
// HISTORY requests in one frame each) and frames of 1,024 slow requests (CLEAR of a prefix that
// matches nothing, over 50,000 keys), compared with the same writes in a quiet server.

const frameOf = (count: number, request: (i: number) => unknown[]): Buffer =>
  encode(Array.from({ length: count }, (_, i) => request(i)))

// The victim's awaited-set latencies in µs, until `until` settles (at least `minimum` writes).
async function victimWrites(
  client: BenchClient,
  until: Promise<unknown>,
  minimum: number,
): Promise<number[]> {
  let done = false
  void until.finally(() => (done = true))
  const samples: number[] = []
  while (!done || samples.length < minimum) {
    const start = nowUs()
    await client.state.set('victim', samples.length)
    samples.push(nowUs() - start)
  }
  return samples
}

runScenario(import.meta.url, async () => {
  const slowFrames = scaled(10, 2)
  const quietWrites = scaled(2_000)
  await using dir = await ipcDir()
  await using pair = await startStatePair(dir)
  const victim = pair.client
  for (let i = 0; i < 50_000; i += 1000)
    await victim.state.update(Object.fromEntries(Array.from({ length: 1000 }, (_, k) => [`key:${i + k}`, k])))
  const attacker = new Dealer({ linger: 0, receiveHighWaterMark: 1 })
  attacker.connect(pair.server.address)
  const hello = [1, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', 1, 'attacker']
  await attacker.send(encode([hello]))
  await attacker.receive()
  // Encoded beforehand: building them would block this process, the victim's.
  const hostile = [
    frameOf(1_300_000, (i) => [i + 1, Op.PING]),
    frameOf(100_000, (i) => [i + 1, Op.HELLO, PROTOCOL_VERSION, 'aaaaaaaaaaaaaaaa', 1, 'x']),
    frameOf(7_500, (i) => [i + 1, Op.HISTORY, 1, 100]),
    ...Array.from({ length: slowFrames }, () => frameOf(1024, (i) => [i + 1, Op.CLEAR, 'nothing:'])),
  ]
  let round = 0
  try {
    const r = await interleaved({
      quiet: () => victimWrites(victim, Promise.resolve(), quietWrites),
      attacked: async () => {
        const sentinel = `sentinel:${round++}`
        const handled = victim.state.whenAvailable(sentinel, { timeout: 120_000 })
        const attack = (async () => {
          for (const frame of hostile) await attacker.send(frame)
          // HELLO again first: the attacker never reads its replies, so the server may have forgotten it.
          await attacker.send(encode([hello, [0, Op.SET, sentinel, true]]))
        })()
        return victimWrites(victim, Promise.all([attack, handled]), 50)
      },
    })
    const stat = (runs: number[][], p: number): number[] => runs.map((samples) => percentile(samples, p))
    const worst = (runs: number[][]): number[] => runs.map((samples) => Math.max(...samples))
    const againstQuiet = (p: number) =>
      compare(
        `p${p} latency, attacked`,
        Unit.us,
        stat(r.attacked, p),
        'same writes, quiet server',
        stat(r.quiet, p),
      )
    return {
      id: 'hostile-frames',
      title: 'Hostile frames: another client’s awaited set while a raw peer floods the server',
      section: 'Budgets',
      comparisons: [
        againstQuiet(50),
        againstQuiet(99),
        compare(
          'worst latency, attacked',
          Unit.us,
          worst(r.attacked),
          'the bound: 100 ms',
          r.attacked.map(() => 100_000),
          { op: '≤', ratio: 1 },
        ),
      ],
      notes: [
        `per run: ${n(quietWrites)} quiet writes; then writes for as long as the server works through 1.3M PINGs, 100k HELLOs and 7,500 HISTORY requests (one frame each) and ${n(slowFrames)} frames of 1,024 CLEARs over 50,000 keys`,
        'the first three frames are refused whole before decoding (more than 1,024 requests); the CLEAR frames are worked through in 5 ms slices between the victim’s writes',
      ],
    }
  } finally {
    attacker.close()
  }
})
