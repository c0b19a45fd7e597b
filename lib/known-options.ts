// Every options object zstate takes is checked for names it does not know: a misspelt option is
// refused with ERR_INVALID_ARGUMENT naming it, rather than silently ignored.
import { invalidArgument } from './errors.ts'

// Allocates nothing when every name is known: some callers (call, when) are on a hot path.
export function checkKnown(options: object, known: readonly string[], what: string): void {
  // Its elements would be read as options named '0', '1', …; an empty one would pass for none.
  if (Array.isArray(options)) throw invalidArgument(`${what}: options must be an object, got an array`)
  for (const key in options)
    if (Object.hasOwn(options, key) && !known.includes(key))
      throw invalidArgument(`${what}: unknown option '${key}' (it takes ${known.join(', ')})`)
}
