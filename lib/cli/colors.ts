// ANSI colours (picocolors) when the stream is a terminal that shows them: NO_COLOR and FORCE_COLOR
// respected, none on a dumb terminal (TERM=dumb: an editor's shell, a plain serial console).
import picocolors from 'picocolors'

export interface Colors {
  readonly enabled: boolean
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  blue(text: string): string
  magenta(text: string): string
  cyan(text: string): string
}

// Whether `stream` is a terminal that can redraw and colour (not a dumb one).
export function isRichTerminal(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env['TERM'] !== 'dumb'
}

export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const forced = env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0'
  const enabled = (env['NO_COLOR'] ?? '') === '' && (forced || isRichTerminal(stream, env))
  const { bold, dim, red, green, yellow, blue, magenta, cyan } = picocolors.createColors(enabled)
  return { enabled, bold, dim, red, green, yellow, blue, magenta, cyan }
}
