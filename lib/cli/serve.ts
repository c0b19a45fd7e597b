// `zstate serve`: a state server in the foreground, until SIGINT/SIGTERM.
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startServer } from '../index.ts'
import type { ServerOptions } from '../index.ts'
import { VERSION } from '../version.ts'
import type { RunOptions } from './args.ts'
import { readAuthorizedKeys, readKeyPair } from './key-files.ts'
import { EXIT_FAILURE, EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { onTermination, unlessAborted } from './signals.ts'

export async function serve(options: RunOptions, io: Io): Promise<number> {
  const termination = onTermination()
  const { signal } = termination
  try {
    const curve = await curveOf(options, io)
    // Until started, or a signal: a gateway may wait for etcd for a while (its deadlines), and a
    // server that was never told to start has nothing to close; the command's exit ends its start.
    const starting = startServer({
      ...(curve === undefined ? {} : { curve }),
      ...(options.address === undefined ? {} : { address: options.address }),
      // A path on the command line is relative to the working directory, not to zstate.
      ...(options.actions === undefined ? {} : { actions: pathToFileURL(resolve(options.actions)) }),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.dataDir === undefined ? {} : { dataDir: resolve(options.dataDir) }),
      ...(options.fsync === undefined ? {} : { fsync: options.fsync }),
      ...(options.repair ? { repair: true } : {}),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.etcd === undefined
        ? {}
        : {
            etcd: {
              endpoints: [...options.etcd],
              ...(options.etcdPrefix === undefined ? {} : { prefix: options.etcdPrefix }),
              ...(options.etcdAdvertise === undefined ? {} : { advertise: options.etcdAdvertise }),
            },
          }),
    })
    const server = await unlessAborted(starting, signal)
    if (server === undefined) {
      io.stderr.write(`zstate: ${describeReason(signal.reason)} while starting, before serving anything\n`)
      return EXIT_OK
    }
    try {
      io.stdout.write(`${server.address}\n`)
      // The public key is what clients pass to --server-key: the log says which one it is.
      const security = curve === undefined ? '' : `, curve public key ${curve.publicKey}, ${clients(curve)}`
      io.stderr.write(
        `zstate: server ${VERSION} listening on ${server.address} ` +
          `(pid ${process.pid}, epoch ${server.epoch}${security}); SIGINT or SIGTERM stops it\n`,
      )
      if (server.metricsUrl !== undefined) io.stderr.write(`zstate: metrics at ${server.metricsUrl}\n`)
      // Until a signal, or until the server stops on its own (an etcd gateway whose watch etcd cancelled).
      const stopped = await unlessAborted(server.closed, signal)
      if (stopped !== undefined) {
        io.stderr.write(`zstate: the server stopped: ${stopped.message}\n`)
        return EXIT_FAILURE
      }
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

async function curveOf(options: RunOptions, io: Io): Promise<ServerOptions['curve']> {
  if (options.curveServer === undefined) return undefined
  const { keyFile, authorizedKeys } = options.curveServer
  const { publicKey, secretKey } = await readKeyPair(keyFile, 'option --curve-secret-file', io)
  return {
    publicKey,
    secretKey,
    authorizedKeys: authorizedKeys === 'any' ? 'any' : await readAuthorizedKeys(authorizedKeys.file),
  }
}

function clients({ authorizedKeys }: NonNullable<ServerOptions['curve']>): string {
  if (authorizedKeys === 'any') return 'any client key'
  return `${authorizedKeys.length} client key${authorizedKeys.length === 1 ? '' : 's'} authorized`
}

function describeReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason)
}
