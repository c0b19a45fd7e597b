// Help text, rendered from the command table so usage and parsing cannot disagree.
import { COMMANDS, OPTION_HELP, SERVE_ADDRESS_HELP, synopsis } from './catalog.ts'
import type { CommandName, OptionHelp, OptionName } from './catalog.ts'

// Flags longer than this put their text on the next line, so one long flag does not push every
// description of the list to the right.
const FLAGS_WIDTH = 22

export function mainHelp(): string {
  const names = Object.keys(COMMANDS) as CommandName[]
  const width = Math.max(...names.map((n) => n.length))
  const lines = [
    'zstate: one shared, reactive key/value state for Node.js processes, over ZeroMQ',
    '',
    'Usage: zstate COMMAND [arguments] [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Options:',
    ...optionLines((['address', 'timeout', 'help', 'version'] as const).map((o) => OPTION_HELP[o])),
    '',
    'Client commands find the server through --address, else $ZSTATE_ADDRESS; a curve server',
    'also wants --server-key and --key-file (else $ZSTATE_SERVER_KEY, $ZSTATE_KEY_FILE).',
    'Exit codes: 0 ok, 1 runtime error (one line on stderr), 2 usage error.',
    'Run "zstate COMMAND --help" for the details of a command.',
  ]
  return lines.join('\n') + '\n'
}

export function commandHelp(name: CommandName): string {
  const spec = COMMANDS[name]
  const options: readonly OptionName[] = spec.options
  const lines = [
    `Usage: ${synopsis(name)}`,
    '',
    `${spec.summary[0]?.toUpperCase() ?? ''}${spec.summary.slice(1)}.`,
  ]
  if (spec.details !== '') lines.push('', spec.details)
  const help = (o: OptionName): OptionHelp =>
    o === 'address' && name === 'serve' ? SERVE_ADDRESS_HELP : OPTION_HELP[o]
  lines.push('', 'Options:', ...optionLines(options.map(help)))
  return lines.join('\n') + '\n'
}

// Two aligned columns: flags, then what they do.
function optionLines(options: readonly OptionHelp[]): string[] {
  const width = Math.min(FLAGS_WIDTH, Math.max(...options.map(([flags]) => flags.length)))
  return options.flatMap(([flags, text]) =>
    flags.length <= width
      ? [`  ${flags.padEnd(width)}  ${text}`]
      : [`  ${flags}`, `  ${''.padEnd(width)}  ${text}`],
  )
}
