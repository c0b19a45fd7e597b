// Asks a server for its counters, services and topics (the dashboard's data besides the process table).
import { ClientImpl } from '../connect.ts'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { Op } from '../protocol/ops.ts'
import { isServerStats, type ServerStats } from '../protocol/server-stats.ts'

export async function serverStats(client: unknown): Promise<ServerStats> {
  if (!(client instanceof ClientImpl)) throw invalidArgument('serverStats: not a zstate client')
  const [stats] = await client.request(Op.STATS, [])
  if (!isServerStats(stats)) throw new ZStateError(ErrorCode.PROTOCOL, 'the server sent malformed stats')
  return stats
}
