import process from 'node:process'
import { zstatePackage } from './support/built.ts'
import { scaled } from './support/config.ts'
import { n } from './support/format.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { compare, Unit } from './support/report.ts'
import { interleaved } from './support/runs.ts'
import { runScenario } from './support/scenario.ts'
import { median } from './support/stats.ts'
import { itemOf, keyOf } from './support/values.ts'
import { setAll, startStatePair, type StatePair } from './support/zstate.ts'

const { generateKeyPair } = zstatePackage

// (i) What CurveZMQ costs: the same writes to a server with `curve` and to one without, both on
// tcp://127.0.0.1, awaited one at a time (goal ≥ 0.8×) and 100,000 in flight (goal ≥ 0.7×). The CPU
// time each process spends per set, with and without curve, is what a miss is explained by.

const TCP = 'tcp://127.0.0.1:*'

// A timed part's result with the CPU time (user + system, µs) the server process and this one (the
// client) spent on it.
interface Measured<T> {
  readonly result: T
  readonly serverCpuUs: number
  readonly clientCpuUs: number
}

const cpuUs = ({ user, system }: NodeJS.CpuUsage): number => user + system

async function withCpu<T>(pair: StatePair, timed: () => Promise<T>): Promise<Measured<T>> {
  const server0 = await pair.server.side.call<NodeJS.CpuUsage>('cpu')
  const client0 = process.cpuUsage()
  const result = await timed()
  const clientCpuUs = cpuUs(process.cpuUsage(client0))
  const server1 = await pair.server.side.call<NodeJS.CpuUsage>('cpu')
  return { result, serverCpuUs: cpuUs(server1) - cpuUs(server0), clientCpuUs }
}

const us = (x: number): string => `${x.toFixed(1)} µs`
const signed = (x: number): string => (x < 0 ? `−${us(-x)}` : `+${us(x)}`)
const m = (runs: readonly number[]): number => (runs.length === 0 ? NaN : median(runs))

runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  const burst = scaled(100_000)
  const burstWarmup = Math.min(10_000, burst)
  await using dir = await ipcDir() // startStatePair's; both servers listen on tcp
  await using plain = await startStatePair(dir, 'plain', { address: TCP })
  await using curve = await startStatePair(dir, 'curve', {
    address: TCP,
    curve: { server: generateKeyPair(), client: generateKeyPair() },
  })

  // Each measurement warms its own path first, then times `count` operations.
  const awaited = (pair: StatePair) => async (): Promise<Measured<Latencies>> => {
    const op = (i: number): Promise<unknown> => pair.client.state.set(keyOf(i), itemOf(i))
    await sequential(warmup, op)
    return withCpu(pair, () => sequential(count, op))
  }
  const seq = await interleaved({ curve: awaited(curve), plain: awaited(plain) })
  const inFlightOf = (pair: StatePair) => async (): Promise<Measured<number>> => {
    await setAll(pair.client, burstWarmup)
    return withCpu(pair, () => setAll(pair.client, burst))
  }
  const par = await interleaved({ curve: inFlightOf(curve), plain: inFlightOf(plain) })

  const ops = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.opsPerSec)
  const p50 = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.p50Us)
  const p99 = (runs: readonly Measured<Latencies>[]): number[] => runs.map((r) => r.result.p99Us)

  // What each goal's miss comes from, from the numbers measured here (shown only with a miss): the CPU
  // time per set of each process, with curve and without.
  const perSet = (runs: readonly Measured<unknown>[], sets: number, side: 'serverCpuUs' | 'clientCpuUs') =>
    m(runs.map((r) => r[side] / sets))
  const cpuCause = (
    c: readonly Measured<unknown>[],
    p: readonly Measured<unknown>[],
    sets: number,
  ): string => {
    const [sc, sp] = [perSet(c, sets, 'serverCpuUs'), perSet(p, sets, 'serverCpuUs')]
    const [cc, cp] = [perSet(c, sets, 'clientCpuUs'), perSet(p, sets, 'clientCpuUs')]
    return `server CPU per set ${us(sc)} with curve, ${us(sp)} without (${signed(sc - sp)}); client ${us(cc)}, ${us(cp)} (${signed(cc - cp)})`
  }
  const awaitedCause = (): string => {
    const [a, b] = [1e6 / m(ops(seq.curve)), 1e6 / m(ops(seq.plain))]
    return `${us(a)} per awaited set on average with curve, ${us(b)} without (${signed(a - b)}); ${cpuCause(seq.curve, seq.plain, count)}`
  }
  const burstCause = (): string => {
    const [a, b] = [m(par.curve.map((r) => r.result)), m(par.plain.map((r) => r.result))]
    return `${n(Math.round(a))}/s with curve, ${n(Math.round(b))}/s without; ${cpuCause(par.curve, par.plain, burst)}`
  }
  const plainName = (shape: string): string => `same over plain tcp, ${shape}`
  return {
    id: 'curve',
    title: '(i) CurveZMQ: encrypted tcp vs plain tcp',
    comparisons: [
      compare(
        'awaited set: throughput',
        Unit.opsPerSec,
        ops(seq.curve),
        plainName('sequential'),
        ops(seq.plain),
        { op: '≥', ratio: 0.8, cause: awaitedCause() },
      ),
      compare('awaited set: p50 latency', Unit.us, p50(seq.curve), plainName('sequential'), p50(seq.plain)),
      compare('awaited set: p99 latency', Unit.us, p99(seq.curve), plainName('sequential'), p99(seq.plain)),
      compare(
        `${n(burst)} sets in flight`,
        Unit.opsPerSec,
        par.curve.map((r) => r.result),
        plainName('in flight'),
        par.plain.map((r) => r.result),
        { op: '≥', ratio: 0.7, cause: burstCause() },
      ),
    ],
    notes: [
      `two servers, each in its own process on ${TCP}: one with curve (its own key pair, one authorized client key; keys from generateKeyPair()), one without; one client in this process for each, connected with the matching keys`,
      `awaited: ${n(count)} sets per run, each awaited before the next, after ${n(warmup)} warm-up; in flight: ${n(burst)} state.set calls at once (after ${n(burstWarmup)} warm-up), one revision each; ~107-byte values`,
      'CPU per set: process.cpuUsage() (user + system, every thread, libzmq’s I/O threads included) of the server process and of this one, read around each timed part and divided by its sets; medians over runs',
      'with curve every message is encrypted and authenticated, requests and replies as well as the commit published back to the writer; the key exchange happens once, when the client connects, outside the timed parts',
    ],
  }
})
