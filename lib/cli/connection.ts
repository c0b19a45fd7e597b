// Opens the client connection every client command uses, with the command line's timeout.
import { connect } from '../index.ts'
import type { Client } from '../index.ts'
import type { RunOptions } from './args.ts'
import { checkSocketFile } from './socket-file.ts'

export type CliClient = Client

export async function openClient(options: RunOptions, command: string): Promise<CliClient> {
  if (options.address !== undefined) await checkSocketFile(options.address, options.timeout)
  return connect(options.address, {
    timeout: options.timeout,
    requestTimeout: options.timeout,
    name: `zstate ${command}`,
  })
}

// Runs fn with a client that is closed afterwards, whatever happens.
export async function withClient<T>(
  options: RunOptions,
  command: string,
  fn: (client: CliClient) => Promise<T>,
): Promise<T> {
  const client = await openClient(options, command)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}
