// The slow-joiner proof (docs/architecture.md "Joining"): subscriptions reach a PUB in order, so once a token the
// server was asked to publish comes back, every subscription made before it is live. The change stream
// and the topic feed both prove themselves this way.
import { abortable, pause } from '../abort.ts'

const RETRY_MS = [5, 10, 20, 50, 100, 200]

// Sends the echo request again, pausing longer each time, until `echoed` resolves or `gaveUp()`;
// rejects with signal.reason once `signal` aborts.
export async function awaitEcho(
  request: () => Promise<unknown>,
  echoed: Promise<void>,
  signal: AbortSignal,
  gaveUp: () => boolean = () => false,
): Promise<void> {
  let seen = false
  void echoed.then(() => (seen = true))
  for (let attempt = 0; !seen && !gaveUp(); attempt++) {
    await abortable(request(), signal)
    await Promise.race([echoed, pause(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!, signal)])
  }
}
