// The first `length` UTF-16 units of `text`, or one fewer rather than end between the two halves of
// a character beyond the BMP (an emoji): a lone half is no string a reader could show or decode.
export function textPrefix(text: string, length: number): string {
  const code = text.charCodeAt(length - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length)
}
