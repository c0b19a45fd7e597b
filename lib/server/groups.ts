// Members each in at most one group, found both ways: a session's ephemeral keys (key-owners.ts), a
// child token's sessions (child-sessions.ts).
export class Groups<G, M> {
  readonly #groupOf = new Map<M, G>()
  readonly #members = new Map<G, Set<M>>()

  // `member` joins `group`, leaving the one it was in.
  put(member: M, group: G): void {
    this.remove(member)
    this.#groupOf.set(member, group)
    let members = this.#members.get(group)
    if (members === undefined) this.#members.set(group, (members = new Set()))
    members.add(member)
  }

  remove(member: M): void {
    const group = this.#groupOf.get(member)
    if (group === undefined) return
    this.#groupOf.delete(member)
    const members = this.#members.get(group)!
    members.delete(member)
    if (members.size === 0) this.#members.delete(group)
  }

  // The group's members, which leave it.
  take(group: G): M[] {
    const members = this.#members.get(group)
    if (members === undefined) return []
    this.#members.delete(group)
    for (const member of members) this.#groupOf.delete(member)
    return [...members]
  }

  clear(): void {
    this.#groupOf.clear()
    this.#members.clear()
  }
}
