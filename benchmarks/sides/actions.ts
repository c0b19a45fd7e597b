// The server actions module of the transactions benchmark (ServerOptions.actions): state.run('increment',
// key) runs this inside the state server, atomically, without retries.
export function increment(draft: Record<string, number>, key: string, by = 1): number {
  const next = (draft[key] ?? 0) + by
  draft[key] = next
  return next
}
