// `zstate services` and `zstate call`: the request/reply side of messaging, from the shell.
import type { RunOptions } from './args.ts'
import { arg } from './commands.ts'
import { withClient } from './connection.ts'
import { parse, stringify } from './json.ts'
import { printable } from './printable.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { commandLine } from './shell.ts'

type Command = (args: readonly string[], options: RunOptions, io: Io) => Promise<number>

const services: Command = (_args, options, io) =>
  withClient(options, 'services', io, [], async (client) => {
    const found = (await client.services()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    // JSON lines by default, as programs read them (the public contract); the table is for people.
    if (options.table !== true) {
      for (const { name, providers, methods } of found)
        io.stdout.write(`${JSON.stringify({ name, providers, methods })}\n`)
    } else if (found.length > 0) {
      io.stdout.write(
        table(found.map((s) => [printable(s.name), String(s.providers), printable(s.methods.join(' '))])),
      )
    }
    return EXIT_OK
  })

const call: Command = async (args, options, io) => {
  const [service, method] = [arg(args, 0), arg(args, 1)]
  // Parsed before connecting, as set's value: a malformed argument is a usage error.
  const jsons = args.slice(2)
  const values = jsons.map((json, i) =>
    parse(json, (quoted) =>
      commandLine(['call', service, method, ...jsons.map((other, j) => (j === i ? quoted : other))]),
    ),
  )
  return withClient(options, 'call', io, [], async (client) => {
    const result = await client.call(service, method, values, { timeout: options.timeout })
    io.stdout.write(`${stringify(result ?? null)}\n`)
    return EXIT_OK
  })
}

export const serviceCommands = { services, call } as const

// Left-aligned columns under a header, two spaces apart.
function table(rows: readonly (readonly [string, string, string])[]): string {
  const all = [['SERVICE', 'PROVIDERS', 'METHODS'] as const, ...rows]
  const widths = [0, 1].map((column) => Math.max(...all.map((row) => row[column]?.length ?? 0)))
  return all
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}
