// Whether a map target can never read its first argument, the worker's ctx: a worker whose target
// cannot skips loading zstate's client and joining the server (lib/process/runtime.ts). Judged from
// the function's source text, erring towards "it may": the first parameter must be a plain name that
// the text never names again (every other occurrence counts, in a string or a comment too), and the
// text must not say `arguments` or `eval`, which reach a parameter without naming it, nor hold a
// `\u` escape, which can spell a name; and the function must not be a plain one in sloppy mode.
// Anything else (a destructured or defaulted first parameter, a comment among the parameters, a
// bound or native function) may read it.
const NAME = String.raw`[A-Za-z_$][\w$]*`
// `async` comes before a parenthesis or a function, or before a name and a space.
const ASYNC = String.raw`(?:async\s*(?=[(f])|async\s+(?=${NAME}\s*=>))?`
const FIRST_PARAMETER = new RegExp(
  String.raw`^${ASYNC}(?:function\b\s*\*?\s*(?:${NAME}\s*)?\(|\()\s*(?:(${NAME})\s*[,)]|\))|^${ASYNC}(${NAME})\s*=>`,
)
// A bound or native function's text hides the function that runs.
const UNNAMED_REACH = /(?<![\w$])(?:arguments|eval)(?![\w$])|\\u|\[native code\]/

export function ignoresContext(fn: (...args: never[]) => unknown): boolean {
  let source: string
  try {
    source = Function.prototype.toString.call(fn)
  } catch {
    return false
  }
  // A plain function in sloppy mode hands out its arguments to any code it calls
  // (`callee.caller.arguments`), whatever its text says: a function target (evaluated sloppy) or a
  // CommonJS module's. Strict, arrow, async, generator functions and methods do not.
  if (Object.hasOwn(fn, 'arguments')) return false
  const match = FIRST_PARAMETER.exec(source)
  if (match === null || UNNAMED_REACH.test(source)) return false
  const name = match[1] ?? match[2]
  // No parameter at all: nothing names the ctx.
  if (name === undefined) return true
  const mentions = source.match(
    new RegExp(String.raw`(?<![\w$])${name.replaceAll('$', '\\$')}(?![\w$])`, 'g'),
  )
  return mentions?.length === 1
}
