// Joining and rejoining after a lost server (docs/consistency.md "Lost server and reconnection"):
// attempt after attempt, until one works, the join's time is up or the client closes.
import { anyWithTimeout, pause } from '../abort.ts'

// The pauses between attempts.
const PAUSE_MS = [50, 100, 250, 500, 1000]

// Runs `attempt` until it succeeds. Each attempt gets a signal that aborts after `attemptMs` or when
// `signal` (the client's lifetime) does; rejects with signal.reason once that aborts. `failed` hears
// why each attempt failed, and ends the attempts by throwing; it returns true when a server answered
// (a refusal, to be tried again: the next attempt then follows at the shortest pause, as no server
// that answers needs waiting for).
export async function reconnect(
  attempt: (signal: AbortSignal) => Promise<void>,
  attemptMs: number,
  signal: AbortSignal,
  failed: (error: unknown) => boolean | void = () => {},
): Promise<void> {
  for (let n = 0; ; n++) {
    signal.throwIfAborted()
    try {
      return await attempt(anyWithTimeout(signal, attemptMs))
    } catch (error) {
      if (failed(error) === true) n = 0 // not back yet
    }
    // A timer that keeps the process alive, as the sockets of a connected client do: an open client
    // holds its process until it is closed, whether or not the server is there.
    await pause(PAUSE_MS[Math.min(n, PAUSE_MS.length - 1)]!, signal, true)
  }
}
