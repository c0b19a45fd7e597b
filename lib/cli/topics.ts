// `zstate pub` and `zstate sub`: the publish/subscribe side of messaging, from the shell.
import type { RunOptions } from './args.ts'
import { arg } from './commands.ts'
import { untilTerminated, withClient } from './connection.ts'
import { parse, toJson } from './json.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { commandLine } from './shell.ts'
import { unlessAborted } from './signals.ts'

export async function pub(args: readonly string[], options: RunOptions, io: Io): Promise<number> {
  const topic = arg(args, 0)
  // Parsed before connecting: a malformed message is a usage error, whatever the server.
  const message = parse(arg(args, 1), (json) => commandLine(['pub', topic, json]))
  return withClient(options, 'pub', io, [], async (client) => {
    await client.publish(topic, message)
    return EXIT_OK
  })
}

// One JSON line per message until SIGINT/SIGTERM, or the first one with --once.
export function sub(args: readonly string[], options: RunOptions, io: Io): Promise<number> {
  return untilTerminated(options, 'sub', io, [], async (client, signal) => {
    const prefix = args[0] ?? ''
    const messages = client.subscribe(prefix, { signal })
    if (
      (await unlessAborted(
        messages.ready.then(() => true),
        signal,
      )) !== true
    )
      return
    const what = prefix === '' ? 'all topics' : `topics under ${JSON.stringify(prefix)}`
    io.stderr.write(`zstate: subscribed to ${what} at ${client.address}\n`)
    for await (const { topic, message } of messages) {
      io.stdout.write(
        `${JSON.stringify({ topic, message: message === undefined ? null : toJson(message) })}\n`,
      )
      if (options.once === true) break
    }
  })
}
