// The liveness check of a connection (docs/consistency.md "Lost server and reconnection"): the server
// counts as lost after `silenceMs` without a word from it, and we ping it every period, busy or not: the
// ping keeps our session alive and confirms the acknowledgements we have applied. A Link is the Peer; what a loss means is the caller's affair.
export interface Peer {
  // When the server was last heard from (ms since the epoch).
  readonly lastHeard: number
  ping(): void
}

export interface HeartbeatOptions {
  // The server's heartbeat period (HELLO's heartbeatMs).
  periodMs: number
  silenceMs: number
  // Stops the check: the connection closed, or this peer was given up.
  signal: AbortSignal
}

// Checks every half period until `signal` aborts; calls `lost` once the server has been silent too long.
export function watchHeartbeats(peer: Peer, options: HeartbeatOptions, lost: (reason: string) => void): void {
  const { periodMs, silenceMs, signal } = options
  if (signal.aborted) return
  const tick = Math.max(10, Math.floor(periodMs / 2))
  let lastTick = Date.now()
  let lastPing = lastTick
  // Silence that does not count against the server: it fell while our own event loop was blocked.
  let excusedUntil = 0
  const timer = setInterval(() => {
    const now = Date.now()
    // A late tick means our own event loop was busy: silence measured across it proves nothing.
    if (now - lastTick > tick * 3) excusedUntil = now - tick
    lastTick = now
    if (now - Math.max(peer.lastHeard, excusedUntil) > silenceMs) {
      stop()
      return lost(`no heartbeat for ${silenceMs} ms`)
    }
    if (now - lastPing < periodMs) return
    lastPing = now
    peer.ping()
  }, tick)
  timer.unref()
  const stop = (): void => {
    clearInterval(timer)
    signal.removeEventListener('abort', stop)
  }
  signal.addEventListener('abort', stop, { once: true })
}
