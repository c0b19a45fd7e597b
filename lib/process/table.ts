// Asks a server for its process table (every context, child and client, with CPU and memory).
import { ClientImpl } from '../connect.ts'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { Op } from '../protocol/ops.ts'
import { isProcessTable, type ProcessTable } from '../protocol/process-table.ts'

export async function processTable(client: unknown): Promise<ProcessTable> {
  if (!(client instanceof ClientImpl)) throw invalidArgument('processTable: not a zstate client')
  const [table] = await client.request(Op.PROCESSES, [])
  if (!isProcessTable(table))
    throw new ZStateError(ErrorCode.PROTOCOL, 'the server sent a malformed process table')
  return table
}
