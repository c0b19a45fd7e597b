// Tokens that only need to differ from every other one in use (a join's echo topic, a context's id in
// the server's listing): none is a secret, so Math.random makes them, which spares every process
// node:crypto's load (about 1.7 ms of a child's start).
export function uniqueToken(): string {
  return word() + word()
}

// 8 lowercase hex digits.
function word(): string {
  return ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, '0')
}
