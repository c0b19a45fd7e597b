// Text that any client chose (a session's, a context's or a child's name, a service's) as a terminal
// table shows it: a control character could move the cursor, recolour or clear the operator's
// screen, or break the table's lines, so each shows as its escape (\n, \u001b); and at most `max`
// characters.
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

export function printable(text: string, max = Infinity): string {
  const shown = text.replace(CONTROL, (char) => NAMED[char] ?? unicodeEscape(char))
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown
}

// One character as its \u escape, as JavaScript and JSON write it.
export function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
}
