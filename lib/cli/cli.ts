// Runs one command line and returns its exit code; never throws.
import { VERSION } from '../version.ts'
import { UsageError, parseCommandLine } from './args.ts'
import type { Invocation } from './args.ts'
import type { CommandName } from './catalog.ts'
import { stateCommands } from './commands.ts'
import { demo } from './demo.ts'
import { dashboard } from './dashboard.ts'
import { commandHelp, mainHelp } from './help.ts'
import { keygen } from './key-files.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, describeError, usageText } from './report.ts'
import type { Io } from './report.ts'
import { serve } from './serve.ts'
import { serviceCommands } from './services.ts'
import { top } from './top.ts'
import { pub, sub } from './topics.ts'
import { watch } from './watch.ts'

export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let command: CommandName | undefined
  try {
    const invocation = parseCommandLine(argv, env)
    if (invocation.kind === 'run') command = invocation.command
    return await dispatch(invocation, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(usageText(error, error.command ?? command))
      return EXIT_USAGE
    }
    io.stderr.write(`zstate: ${describeError(error)}\n`)
    return EXIT_FAILURE
  }
}

async function dispatch(invocation: Invocation, io: Io): Promise<number> {
  switch (invocation.kind) {
    case 'version':
      io.stdout.write(`${VERSION}\n`)
      return EXIT_OK
    case 'help':
      // On stdout even for `zstate` alone, as git does, so that `zstate | less` works.
      io.stdout.write(invocation.command === undefined ? mainHelp() : commandHelp(invocation.command))
      return invocation.missingCommand === true ? EXIT_USAGE : EXIT_OK
    case 'run':
      break
  }
  const { command, args, options } = invocation
  switch (command) {
    case 'serve':
      return serve(options, io)
    case 'watch':
      return watch(args, options, io)
    case 'demo':
      return demo(io)
    case 'keygen':
      return keygen(io)
    case 'top':
      return top(options, io)
    case 'dashboard':
      return dashboard(options, io)
    case 'pub':
      return pub(args, options, io)
    case 'sub':
      return sub(args, options, io)
    case 'services':
    case 'call':
      return serviceCommands[command](args, options, io)
    default:
      return stateCommands[command](args, options, io)
  }
}
