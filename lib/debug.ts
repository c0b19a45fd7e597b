// `NODE_DEBUG=zstate` (Node's util.debuglog): the join, gap repair, resync, reconnection and every
// request and reply, on stderr. Hot paths test `debugging` before building a message: NODE_DEBUG is
// read once at start-up, so an unset one costs a constant check, not a getter call per message.
import { debuglog } from 'node:util'

export const debug = debuglog('zstate')
export const debugging = debug.enabled

// A request or reply's arguments, cut short: a debug line names the data, it does not dump it.
export function brief(value: unknown): string {
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined'
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text
}
