// A child's stdout and stderr, forwarded to the parent's line by line with the child's name in
// front; the last lines of stderr are kept for the ProcessExitError of a child that dies.
import type { Readable } from 'node:stream'

const TAIL_LINES = 20
const TAIL_LINE_CHARS = 1000

export class StderrTail {
  readonly #lines: string[] = []

  push(line: string): void {
    this.#lines.push(line.length > TAIL_LINE_CHARS ? `${line.slice(0, TAIL_LINE_CHARS)}…` : line)
    if (this.#lines.length > TAIL_LINES) this.#lines.shift()
  }

  get text(): string {
    return this.#lines.join('\n')
  }

  // The line that says why the child died: its last one, unless Node reported an uncaught error and
  // ended with its version banner: then the error's own line, above its stack.
  get last(): string {
    const lines = this.#lines.filter((line) => line.trim() !== '')
    if (!NODE_BANNER.test(lines.at(-1) ?? '')) return lines.at(-1) ?? ''
    lines.pop()
    let end = lines.findLastIndex((line) => STACK_FRAME.test(line))
    while (end > 0 && STACK_FRAME.test(lines[end - 1]!)) end--
    return (end > 0 ? lines[end - 1] : lines.at(-1)) ?? ''
  }
}

// What Node writes last when an uncaught error ends a process, and a line of a stack trace.
const NODE_BANNER = /^Node\.js v\d+\.\d+\.\d+$/
const STACK_FRAME = /^\s+at /

// Resolves when the stream has ended (or failed), with every complete line written to `sink`.
export function forwardLines(
  stream: Readable | null | undefined,
  sink: NodeJS.WritableStream,
  prefix: string,
  tail?: StderrTail,
): Promise<void> {
  if (stream === null || stream === undefined) return Promise.resolve()
  return new Promise((resolve) => {
    let partial = ''
    const emit = (line: string): void => {
      tail?.push(line)
      sink.write(`${prefix}${line}\n`)
    }
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) emit(line.endsWith('\r') ? line.slice(0, -1) : line)
    })
    const end = (): void => {
      if (partial !== '') emit(partial)
      partial = ''
      resolve()
    }
    stream.once('end', end)
    stream.once('close', end)
    stream.once('error', end)
  })
}
