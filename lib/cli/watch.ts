// `zstate watch [PREFIX]`: one JSON line per change until SIGINT/SIGTERM.
import { ErrorCode, ZStateError } from '../errors.ts'
import type { RunOptions } from './args.ts'
import { untilTerminated } from './connection.ts'
import type { CliClient } from './connection.ts'
import { toJson } from './json.ts'
import { prefixHint } from './prefix-hint.ts'
import type { Io } from './report.ts'

export function watch(args: readonly string[], options: RunOptions, io: Io): Promise<number> {
  return untilTerminated(
    options,
    'watch',
    io,
    args[0] === undefined ? undefined : [args[0]],
    async (client, signal) => {
      void reportStatus(client, io).catch(() => {})
      // The revisions of the snapshots the replica was rebuilt from, as they happen: with --resume,
      // watching goes on right after the one that ended the stream, whatever arrived since.
      const resets: number[] = []
      const unsubscribe = client.state.subscribe((event) => {
        if (event.reset === true) resets.push(event.revision)
      })
      try {
        const prefix = args[0]
        const what = prefix === undefined ? 'all keys' : `keys under ${JSON.stringify(prefix)}`
        const from = options.fromRevision ?? client.state.revision + 1
        let fromRevision = options.fromRevision
        let announced = false
        for (;;) {
          resets.length = 0
          const changes = client.state.watch({
            ...(prefix === undefined ? {} : { prefix }),
            ...(fromRevision === undefined ? {} : { fromRevision }),
            signal,
          })
          // Once the watch took its options: never a watch that never was.
          if (!announced) {
            announced = true
            io.stderr.write(`zstate: watching ${what} at ${client.address} from revision ${from}\n`)
            const hint = prefix === undefined ? undefined : prefixHint('watch', prefix)
            if (hint !== undefined) io.stderr.write(`zstate: ${hint}\n`)
          }
          try {
            for await (const change of changes) {
              const line = {
                revision: change.revision,
                key: change.key,
                value: change.deleted ? null : toJson(change.value),
                deleted: change.deleted,
              }
              io.stdout.write(`${JSON.stringify(line)}\n`)
            }
            return
          } catch (error) {
            const reset = resets[resets.length - 1]
            if (!(options.resume === true && reset !== undefined && isCompacted(error))) throw error
            io.stdout.write(`${JSON.stringify({ reset: true, revision: reset })}\n`)
            fromRevision = reset + 1
          }
        }
      } finally {
        unsubscribe()
      }
    },
  )
}

function isCompacted(error: unknown): boolean {
  return error instanceof ZStateError && error.code === ErrorCode.COMPACTED
}

// The client reconnects by itself; say so on stderr, so a quiet stream is not mistaken for a quiet store.
async function reportStatus(client: CliClient, io: Io): Promise<void> {
  // Said as each happens: with several gateways, the address is the one the client is at now.
  const messages = {
    disconnected: () => `lost the server at ${client.address}, reconnecting`,
    reconnected: () => `reconnected to ${client.address}`,
    reset: () => 'the state was rebuilt from a fresh snapshot',
    closed: () => undefined,
  } as const
  for await (const { type } of client.status()) {
    const message = messages[type]()
    if (message !== undefined) io.stderr.write(`zstate: ${message}\n`)
    if (type === 'disconnected') void reportRefusals(client, io)
  }
}

// Until reconnected: a server that refuses this client (restarted with other authorized keys) is
// said once, rather than waited on in silence. A request waits for the next link (up to the
// command's --timeout) and, if it is refused meanwhile, fails with the refusal as its cause.
async function reportRefusals(client: CliClient, io: Io): Promise<void> {
  let told: string | undefined
  for (;;) {
    try {
      await client.state.sync()
      return
    } catch (error) {
      if (!(error instanceof ZStateError) || error.code !== ErrorCode.TIMEOUT) return // closed
      const { cause } = error
      if (cause instanceof ZStateError && cause.message !== told) {
        told = cause.message
        io.stderr.write(`zstate: ${cause.message} (${cause.code}); trying again\n`)
      }
    }
  }
}
