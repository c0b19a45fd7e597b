// `zstate keys '*'` lists the keys that start with '*': PREFIX is no pattern. The listing stays what
// was asked for (a key may start with '*'); a line on stderr says so and shows what was likely meant.
import { commandLine } from './shell.ts'

const WILDCARD = /[*?]/

export function prefixHint(command: 'keys' | 'watch' | 'clear', prefix: string): string | undefined {
  const at = prefix.search(WILDCARD)
  if (at < 0) return undefined
  const verb = command === 'keys' ? 'list' : command
  const meant = prefix.slice(0, at)
  const instead =
    meant === ''
      ? `to ${verb} every key: ${commandLine([command])}`
      : `to ${verb} the keys that start with ${JSON.stringify(meant)}: ${commandLine([command, meant])}`
  const quoted = JSON.stringify(prefix)
  return (
    `${command}: the argument is a key prefix, not a pattern ` +
    `(${quoted} matches only keys that start with ${quoted}); ${instead}`
  )
}
