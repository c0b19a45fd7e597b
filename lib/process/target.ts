// What a child runs: a module (URL or path) whose default export is the worker function, or a
// self-contained function sent as source text. Checked in the parent, before anything starts.
import { basename, extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { invalidArgument } from '../errors.ts'

export type Target =
  | { readonly kind: 'module'; readonly url: string; readonly label: string }
  | { readonly kind: 'function'; readonly source: string; readonly label: string }

// A URL scheme (file:, data:, …); a Windows drive letter is a path, not a scheme.
const SCHEME = /^[a-z][a-z0-9+.-]+:/i

export function resolveTarget(target: unknown, what: string): Target {
  if (target instanceof URL) return moduleTarget(target.href)
  if (typeof target === 'string') {
    if (target === '') throw invalidArgument(`${what}: target must not be an empty string`)
    return moduleTarget(SCHEME.test(target) ? target : pathToFileURL(resolve(target)).href)
  }
  if (typeof target === 'function') return functionTarget(target as (...args: never[]) => unknown, what)
  throw invalidArgument(
    `${what}: target must be a module URL or path, or a function; got ${target === null ? 'null' : typeof target}`,
  )
}

function moduleTarget(url: string): Target {
  return { kind: 'module', url, label: moduleLabel(new URL(url)) }
}

// A module's children are named after its file; a data: URL has no file, only its text.
function moduleLabel(url: URL): string {
  if (url.protocol === 'data:') return 'data'
  let file = basename(url.pathname)
  try {
    file = decodeURIComponent(file)
  } catch {
    // Not percent-encoded text (file:///a%zz.mjs): named as written.
  }
  return file.slice(0, file.length - extname(file).length) || 'worker'
}

// A function travels as its source text, so it must make sense on its own: no methods, bound or
// native functions (their text is not a function expression), no classes.
function functionTarget(fn: (...args: never[]) => unknown, what: string): Target {
  const source = Function.prototype.toString.call(fn)
  const name = typeof fn.name === 'string' && fn.name !== '' ? fn.name : 'function'
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    const kind = name.startsWith('bound ') ? 'a bound function' : 'a native function'
    throw invalidArgument(`${what}: ${kind} (${name}) cannot be sent to a child; pass a plain function`)
  }
  if (/^class\b/.test(source)) throw invalidArgument(`${what}: a class cannot be a worker function`)
  try {
    // Only parsed, never run: a method's text (`run() {…}`) is not an expression on its own.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function(`return (${source}\n)`)
  } catch {
    throw invalidArgument(
      `${what}: the method ${name} cannot be sent to a child as source; use a function expression, ` +
        'an arrow function or a module',
    )
  }
  return { kind: 'function', source, label: name.replace(/^bound /, '') }
}
