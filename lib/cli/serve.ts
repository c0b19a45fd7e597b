// `zstate serve`: a state server in the foreground, until SIGINT/SIGTERM.
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startServer } from '../index.ts'
import { VERSION } from '../version.ts'
import type { RunOptions } from './args.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { aborted, onTermination } from './signals.ts'
import { checkSocketFree } from './socket-file.ts'

export async function serve(options: RunOptions, io: Io): Promise<number> {
  const termination = onTermination()
  const { signal } = termination
  try {
    if (options.address !== undefined) await checkSocketFree(options.address, options.timeout)
    const server = await startServer({
      ...(options.address === undefined ? {} : { address: options.address }),
      // A path on the command line is relative to the working directory, not to zstate.
      ...(options.actions === undefined ? {} : { actions: pathToFileURL(resolve(options.actions)) }),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.dataDir === undefined ? {} : { dataDir: resolve(options.dataDir) }),
      ...(options.fsync === undefined ? {} : { fsync: options.fsync }),
      ...(options.repair ? { repair: true } : {}),
    })
    try {
      io.stdout.write(`${server.address}\n`)
      io.stderr.write(
        `zstate: server ${VERSION} listening on ${server.address} ` +
          `(pid ${process.pid}, epoch ${server.epoch}); SIGINT or SIGTERM stops it\n`,
      )
      await aborted(signal)
      io.stderr.write(`zstate: ${describeReason(signal.reason)}, closing at revision ${server.revision}\n`)
    } finally {
      await server.close()
    }
    io.stderr.write('zstate: server closed\n')
    return EXIT_OK
  } finally {
    termination.dispose()
  }
}

function describeReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason)
}
