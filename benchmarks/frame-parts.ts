import { Dealer } from 'zeromq'
import { toParts } from '../lib/protocol/parts.ts'
import { scaled } from './support/config.ts'
import { ipcDir } from './support/ipc.ts'
import { sequential, type Latencies } from './support/measure.ts'
import { forkSide } from './support/processes.ts'
import { compare, Unit } from './support/report.ts'
import { runScenario } from './support/scenario.ts'
import { interleaved } from './support/runs.ts'
import { n } from './support/format.ts'

// The measurement behind parts (docs/protocol.md, "Parts"): a raw DEALER→ROUTER echo of a payload of
// 129 bytes to 1 KiB, sent as zstate sends it (128-byte parts) and as one frame, which zeromq.js sends
// and receives without copying. Not a goal: the reason for a design choice, kept measured.
const SIZES = [129, 256, 512, 1024] as const

runScenario(import.meta.url, async () => {
  const count = scaled(10_000)
  const warmup = Math.min(500, count)
  await using dir = await ipcDir()
  const echo = await forkSide(new URL('./sides/echo-router.ts', import.meta.url))
  const endpoint = dir.endpoint('parts-echo')
  await echo.call('bind', endpoint)
  const dealer = new Dealer({ linger: 0 })
  dealer.connect(endpoint)
  const roundTrips = (frames: Buffer[]) => async (): Promise<Latencies> => {
    const once = async (): Promise<void> => {
      await dealer.send(frames)
      await dealer.receive()
    }
    await sequential(warmup, once)
    return sequential(count, once)
  }
  try {
    const payloads = SIZES.map((size) => Buffer.alloc(size, 0x5a))
    const contenders: Record<string, () => Promise<Latencies>> = {
      small: roundTrips([Buffer.alloc(128, 0x5a)]),
    }
    for (const payload of payloads) {
      contenders[`parts${payload.length}`] = roundTrips(toParts(payload))
      contenders[`frame${payload.length}`] = roundTrips([payload])
    }
    const r = await interleaved(contenders)
    const ops = (name: string): number[] => r[name]!.map((x) => x.opsPerSec)
    return {
      id: 'frame-parts',
      title: '(a) Why small payloads travel as parts: raw DEALER→ROUTER echo, one at a time',
      comparisons: [
        ...SIZES.map((size) =>
          compare(
            `${n(size)} bytes as parts: round trips`,
            Unit.opsPerSec,
            ops(`parts${size}`),
            `the same ${n(size)} bytes as one frame`,
            ops(`frame${size}`),
          ),
        ),
        compare(
          '129 bytes as parts: round trips',
          Unit.opsPerSec,
          ops('parts129'),
          '128 bytes, one frame',
          ops('small'),
        ),
        compare(
          '129 bytes as one frame: round trips',
          Unit.opsPerSec,
          ops('frame129'),
          '128 bytes, one frame',
          ops('small'),
        ),
      ],
      notes: [
        `${n(count)} round trips per run, each after ${n(warmup)} warm-up ones; the echo sends back every frame it gets`,
        'zeromq.js sends a frame of over 128 bytes without copying it (its release wakes the sender’s event loop once more) and receives one as an external buffer with a finalizer; up to 128 bytes it copies',
        '“zstate” here is the parts path that zstate uses for payloads of 129 bytes to 1 KiB (lib/protocol/parts.ts)',
      ],
    }
  } finally {
    dealer.close()
    await echo.stop()
  }
})
