// The one-shot state commands: get, set, del, incr, clear, keys, info.
import { buffer } from 'node:stream/consumers'
import type { RunOptions } from './args.ts'
import { UsageError } from './args.ts'
import { abortable } from '../abort.ts'
import { debug } from '../debug.ts'
import { withClient } from './connection.ts'
import { parse, stringify } from './json.ts'
import { prefixHint } from './prefix-hint.ts'
import { listedKey } from './printable.ts'
import { EXIT_FAILURE, EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { commandLine } from './shell.ts'
import { onTermination } from './signals.ts'

type Command = (args: readonly string[], options: RunOptions, io: Io) => Promise<number>

const get: Command = (args, options, io) => {
  const key = arg(args, 0)
  return withClient(options, 'get', io, [key], async ({ state }) => {
    const value = state.get(key)
    if (value === undefined) return EXIT_FAILURE
    io.stdout.write(`${stringify(value)}\n`)
    return EXIT_OK
  })
}

const set: Command = async (args, options, io) => {
  const key = arg(args, 0)
  const json = arg(args, 1)
  // `-` is no JSON document: it stands for stdin, read to its end before connecting.
  const text = json === '-' ? (await readStdin(io.stdin ?? process.stdin)).trim() : json
  // Parsed before connecting: a malformed argument is a usage error, whatever the server. The hint
  // for a bare word is where the quotes go: on the command line, or in what stdin holds.
  const value = parse(text, (quoted) =>
    json === '-' ? `${quoted} on stdin` : commandLine(['set', key, quoted]),
  )
  return withClient(options, 'set', io, [], async ({ state }) => {
    const revision = await state.set(key, value, options.ttl === undefined ? undefined : { ttl: options.ttl })
    io.stdout.write(`${revision}\n`)
    return EXIT_OK
  })
}

const del: Command = (args, options, io) =>
  withClient(options, 'del', io, [], async ({ state }) => {
    const deleted = await state.delete(arg(args, 0))
    io.stdout.write(`${deleted}\n`)
    return EXIT_OK
  })

const incr: Command = async (args, options, io) => {
  const key = arg(args, 0)
  const by = integerArgument(args[1] ?? '1', 'BY')
  return withClient(options, 'incr', io, [key], async ({ state }) => {
    // A bigint counter only adds bigints; the replica says which kind the key holds now.
    const value =
      typeof state.get(key) === 'bigint'
        ? await state.increment(key, BigInt(by))
        : await state.increment(key, by)
    io.stdout.write(`${stringify(value)}\n`)
    return EXIT_OK
  })
}

const clear: Command = (args, options, io) =>
  // A scope is a read of its prefix: clearing one replicates the keys it deletes.
  withClient(options, 'clear', io, args[0] === undefined ? [] : [args[0]], async ({ state }) => {
    const prefix = args[0] ?? ''
    const hint = prefixHint('clear', prefix)
    if (hint !== undefined) io.stderr.write(`zstate: ${hint}\n`)
    // 0: the server committed nothing, as no key matched (whatever other clients commit meanwhile).
    const revision = await (prefix === '' ? state.clear() : state.scope(prefix).clear())
    if (revision === 0) {
      const where = prefix === '' ? 'the store is empty' : `no key starts with ${JSON.stringify(prefix)}`
      io.stderr.write(`zstate: nothing to clear: ${where}\n`)
    } else {
      io.stdout.write(`${revision}\n`)
    }
    return EXIT_OK
  })

const keys: Command = (args, options, io) =>
  withClient(options, 'keys', io, [args[0] ?? ''], async ({ state }) => {
    const prefix = args[0] ?? ''
    const found = [...state.keys()].filter((key) => key.startsWith(prefix)).sort()
    if (found.length > 0) io.stdout.write(`${found.map(listedKey).join('\n')}\n`)
    const hint = prefixHint('keys', prefix)
    if (hint !== undefined) io.stderr.write(`zstate: ${hint}\n`)
    return EXIT_OK
  })

const info: Command = (_args, options, io) =>
  withClient(options, 'info', io, [], async (client) => {
    io.stdout.write(`${stringify(await client.server())}\n`)
    return EXIT_OK
  })

export const stateCommands = { get, set, del, incr, clear, keys, info } as const

// Arity is checked by the parser; this only satisfies noUncheckedIndexedAccess.
export function arg(args: readonly string[], index: number): string {
  const value = args[index]
  if (value === undefined) throw new Error(`missing argument ${index + 1}`)
  return value
}

// A safe integer argument, or a usage error naming it.
function integerArgument(text: string, name: string): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n))
    throw new UsageError(`${name} must be an integer, got ${JSON.stringify(text)}`)
  return n
}

// All of stdin, as UTF-8 text (JSON's encoding): bytes that are not UTF-8 are a usage error, not
// characters silently replaced. SIGINT/SIGTERM while it is still open end the command as any other.
async function readStdin(stream: NodeJS.ReadableStream): Promise<string> {
  const termination = onTermination()
  try {
    debug('reading the value from stdin, until it ends')
    const bytes = await abortable(buffer(stream), termination.signal)
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new UsageError('the value on stdin is not UTF-8 text, as JSON must be')
    }
  } finally {
    termination.dispose()
  }
}
