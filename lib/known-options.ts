// Every options object zstate takes is checked for names it does not know: a misspelt option is
// refused with ERR_INVALID_ARGUMENT naming it, rather than silently ignored.
import { invalidArgument } from './errors.ts'

export function checkKnown(options: object, known: readonly string[], what: string): void {
  const unknown = Object.keys(options).find((key) => !known.includes(key))
  if (unknown !== undefined)
    throw invalidArgument(`${what}: unknown option '${unknown}' (it takes ${known.join(', ')})`)
}
