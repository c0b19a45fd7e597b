// The one-shot client commands: get, set, del, keys, info.
import type { RunOptions } from './args.ts'
import { withClient } from './connection.ts'
import { parse, stringify } from './json.ts'
import { prefixHint } from './prefix-hint.ts'
import { EXIT_FAILURE, EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { commandLine } from './shell.ts'

type Command = (args: readonly string[], options: RunOptions, io: Io) => Promise<number>

const get: Command = (args, options, io) =>
  withClient(options, 'get', io, async ({ state }) => {
    const value = state.get(arg(args, 0))
    if (value === undefined) return EXIT_FAILURE
    io.stdout.write(`${stringify(value)}\n`)
    return EXIT_OK
  })

const set: Command = async (args, options, io) => {
  const key = arg(args, 0)
  // Parsed before connecting: a malformed argument is a usage error, whatever the server.
  const value = parse(arg(args, 1), (json) => commandLine(['set', key, json]))
  return withClient(options, 'set', io, async ({ state }) => {
    const revision = await state.set(key, value)
    io.stdout.write(`${revision}\n`)
    return EXIT_OK
  })
}

const del: Command = (args, options, io) =>
  withClient(options, 'del', io, async ({ state }) => {
    const deleted = await state.delete(arg(args, 0))
    io.stdout.write(`${deleted}\n`)
    return EXIT_OK
  })

const keys: Command = (args, options, io) =>
  withClient(options, 'keys', io, async ({ state }) => {
    const prefix = args[0] ?? ''
    const found = [...state.keys()].filter((key) => key.startsWith(prefix)).sort()
    if (found.length > 0) io.stdout.write(`${found.join('\n')}\n`)
    const hint = prefixHint('keys', prefix)
    if (hint !== undefined) io.stderr.write(`zstate: ${hint}\n`)
    return EXIT_OK
  })

const info: Command = (_args, options, io) =>
  withClient(options, 'info', io, async (client) => {
    io.stdout.write(`${stringify(await client.server())}\n`)
    return EXIT_OK
  })

export const clientCommands = { get, set, del, keys, info } as const

// Arity is checked by the parser; this only satisfies noUncheckedIndexedAccess.
function arg(args: readonly string[], index: number): string {
  const value = args[index]
  if (value === undefined) throw new Error(`missing argument ${index + 1}`)
  return value
}
