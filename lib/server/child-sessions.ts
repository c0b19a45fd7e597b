// The sessions of context children. A context gives each child it launches a secret token, which the
// child's client names in its HELLO; when the child has gone (its process or thread exited, however
// it ended) the context sends the token in CHILD_GONE, and the server ends those sessions at once,
// their ephemeral keys with them, instead of after the silence that expires a session (docs/state.md,
// "Ephemeral keys"). Only the child and its parent know the token, so no one else can end the session.
// The server keeps them as Groups<token, Session> (lib/server/groups.ts).

// A child token: 32 to 64 lowercase hex digits (128 bits at least, as only its holders may end
// the session).
export function isChildToken(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{32,64}$/.test(value)
}
