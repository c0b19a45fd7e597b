// Reads of what a user's code made, which may be hostile: a getter, or a Proxy's trap, may throw, and
// a report of a failure must not fail in turn.
export function safely<T>(read: () => T, fallback: T): T {
  try {
    return read()
  } catch {
    return fallback
  }
}

// A string read safely; anything else (or a throw) is `fallback`.
export function safeString(read: () => unknown, fallback: string): string {
  const value = safely(read, fallback)
  return typeof value === 'string' ? value : fallback
}

// A thrown value's text for a message: an Error's message, anything else as String() shows it.
export function thrownText(thrown: unknown): string {
  return safely(
    () => (thrown instanceof Error ? String(thrown.message) : String(thrown)),
    'an unreadable value',
  )
}
