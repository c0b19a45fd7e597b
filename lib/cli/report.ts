// How the command line reports failures: one line, no stack trace.
import { UsageError } from './args.ts'
import { synopsis } from './catalog.ts'
import type { CommandName } from './catalog.ts'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

// `message (CODE)` on one line, for any thrown value.
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error))
  const code = (error as { code?: unknown }).code
  const message = oneLine(error.message) || error.name
  return typeof code === 'string' && !(error instanceof UsageError) ? `${message} (${code})` : message
}

export function usageText(error: UsageError, command: CommandName | undefined): string {
  const hint =
    command === undefined || command === 'help'
      ? 'Run "zstate --help" for the commands.'
      : `Usage: ${synopsis(command)}  (see "zstate ${command} --help")`
  return `zstate: ${oneLine(error.message)}\n${hint}\n`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

// Where a command reads and writes: the process streams, or anything alike.
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  readonly stderr: NodeJS.WritableStream
  /** What `set KEY -` reads; process.stdin when absent. */
  readonly stdin?: NodeJS.ReadableStream
}
