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

  get last(): string {
    return this.#lines.findLast((line) => line.trim() !== '') ?? ''
  }
}

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
