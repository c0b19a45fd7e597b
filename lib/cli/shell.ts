// The command lines our hints suggest, written so that sh reads each word as one argument.

const PLAIN = /^[\w@%+=:,./-]+$/

export function commandLine(words: readonly string[]): string {
  const dashed = words.findIndex((word) => word.startsWith('-'))
  // An argument that starts with '-' would read as an option: `--` ends the options before it.
  const args = dashed < 0 ? words : [...words.slice(0, dashed), '--', ...words.slice(dashed)]
  return ['zstate', ...args.map(shellWord)].join(' ')
}

// Single quotes keep everything literal; a single quote itself is closed, escaped and reopened.
export function shellWord(word: string): string {
  return PLAIN.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
