// The sessions of context children. A context gives each child it launches a secret token, which the
// child's client names in its HELLO; when the child has gone (its process or thread exited, however
// it ended) the context sends the token in CHILD_GONE, and the server ends those sessions at once,
// their ephemeral keys with them, instead of after the silence that expires a session (docs/state.md,
// "Ephemeral keys"). Only the child and its parent know the token, so no one else can end the session.
import type { Session } from './sessions.ts'

export class ChildSessions {
  // By token; each session under at most one.
  readonly #byToken = new Map<string, Set<Session>>()
  readonly #tokenOf = new Map<Session, string>()

  // A HELLO: the session's child token, or none (replacing what an earlier HELLO on the same
  // connection said).
  link(session: Session, token: string | undefined): void {
    this.dropSession(session)
    if (token === undefined) return
    let sessions = this.#byToken.get(token)
    if (sessions === undefined) this.#byToken.set(token, (sessions = new Set()))
    sessions.add(session)
    this.#tokenOf.set(session, token)
  }

  // CHILD_GONE: the sessions that named the token, forgotten here.
  gone(token: string): Session[] {
    const sessions = this.#byToken.get(token)
    if (sessions === undefined) return []
    this.#byToken.delete(token)
    for (const session of sessions) this.#tokenOf.delete(session)
    return [...sessions]
  }

  dropSession(session: Session): void {
    const token = this.#tokenOf.get(session)
    if (token === undefined) return
    this.#tokenOf.delete(session)
    const sessions = this.#byToken.get(token)!
    sessions.delete(session)
    if (sessions.size === 0) this.#byToken.delete(token)
  }
}

// A child token: 32 to 64 lowercase hex digits (128 bits at least, as only its holders may end
// the session).
export function isChildToken(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{32,64}$/.test(value)
}
