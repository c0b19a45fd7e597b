// What one client may cost the server per frame and per turn, so that no frame, however crafted,
// can exhaust its memory or hold its loop (docs/protocol.md, "Limits").

// Requests in one frame; a larger frame is refused whole (ERR_TOO_LARGE) before it is decoded.
// Clients pack at most 512.
export const MAX_FRAME_REQUESTS = 1024

// How long one peer's requests may run before other peers' frames are handled.
export const SLICE_MS = 5

// Reply bytes one frame's requests, and one session's requests in one turn, may produce: bulk
// replies (history and snapshot pages, listings) are cut to what is left, or refused when nothing is.
// Snapshot and history pages are this size, well under the message limit.
export const replyBudget = (maxMessageBytes: number): number =>
  Math.min(1 << 20, Math.floor(maxMessageBytes / 2))

// Frame bytes a peer may have waiting for their slices; beyond it its new frames are refused
// (ERR_OVERFLOW) until the server has worked through what it sent.
export const maxQueuedBytes = (maxMessageBytes: number): number => 2 * maxMessageBytes
