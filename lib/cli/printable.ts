// Text that any client chose (a session's, a context's or a child's name, a service's, a key) as the
// terminal shows it: a control character could move the cursor, recolour or clear the operator's
// screen, or break a table's or a listing's lines.
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

// For a table: each control character as its escape (\n, \u001b); at most `max` characters.
export function printable(text: string, max = Infinity): string {
  const shown = text.replace(CONTROL, (char) => NAMED[char] ?? unicodeEscape(char))
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown
}

// For `zstate keys`: a key as it is, unless it holds a control character or starts with a quote:
// then as a JSON string, which is one line, shows every character, and cannot be mistaken for a key
// listed as it is. JSON.stringify escapes C0 controls but leaves DEL and C1 ones as they are.
export function listedKey(key: string): string {
  if (!key.startsWith('"') && key.search(CONTROL) < 0) return key
  return JSON.stringify(key).replace(CONTROL, unicodeEscape)
}

// One character as its \u escape, as JavaScript and JSON write it.
function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
}
