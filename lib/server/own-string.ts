// A string from a request to keep, holding on to nothing else. msgpackr decodes a run of strings of a
// frame as one string and hands out pieces of it, and V8 makes a piece of 13 characters or more (a
// slice of a string, too) a view that keeps the whole alive: kept as decoded, a key, a name or a
// method would keep the rest of its frame in memory, up to maxMessageBytes each.
export function ownString(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, 'utf16le').toString('utf16le')
}
