// How a zstate object shows in console.log and util.inspect: its name and the few fields that say what
// it is, never its internals.
import type { InspectOptionsStylized, inspect } from 'node:util'

export function inspectAs(
  name: string,
  fields: Record<string, unknown>,
  depth: number,
  options: InspectOptionsStylized,
  show: typeof inspect,
): string {
  if (depth < 0) return options.stylize(`[${name}]`, 'special')
  return `${name} ${show(fields, options)}`
}
