// The server's replies to the state's requests and to INFO, read and checked: each reader returns a
// typed value or throws ERR_PROTOCOL (the readers of the connection's own replies are in lib/link).
import { malformed } from '../link/replies.ts'
import { isRevision } from '../protocol/frames.ts'
import { adoptDecoded } from '../protocol/values.ts'
import type { ServerInfo } from './types.ts'

// [revision]: SET, DELETE, UPDATE, CLEAR, CAS and TXN, acknowledged by their commit (lib/link/channel.ts
// acknowledge), or replied [0] where nothing was committed (an absent key, a failed compare, a read-only
// transaction).
export function readRevision(reply: readonly unknown[], what: string): number {
  const [revision] = reply
  if (!isRevision(revision)) throw malformed(`${what} reply`)
  return revision
}

// [0, revision, claim]: a transaction that conflicted and now holds its turn on its keys from
// `revision` (lib/server/claims.ts); undefined for any other reply.
export function readTurn(reply: readonly unknown[]): { revision: number; claim: number } | undefined {
  if (reply.length !== 3 || reply[0] !== 0) return undefined
  const [, revision, claim] = reply
  if (!isRevision(revision) || !isRevision(claim) || claim === 0) throw malformed('transaction reply')
  return { revision, claim }
}

// [revision, value]: the new value comes with the commit.
export function readIncrement(reply: readonly unknown[]): { revision: number; value: number | bigint } {
  const [revision, value] = reply
  if (!isRevision(revision) || (typeof value !== 'number' && typeof value !== 'bigint'))
    throw malformed('increment reply')
  return { revision, value }
}

// [revision, result]: acknowledged by the commit, replied to a partial replica, or replied [0, result]
// when the action changed nothing; the result as decoded in each case.
export function readRun(reply: readonly unknown[]): { revision: number; result: unknown } {
  const [revision, result] = reply
  if (!isRevision(revision) || reply.length !== 2) throw malformed('run reply')
  return { revision, result: adoptDecoded(result) }
}

// The readers of single writes' replies, applied by the channel as each settles (lib/link/channel.ts).
export const readSetReply = (reply: readonly unknown[]): number => readRevision(reply, 'set')
export const readDeleteReply = (reply: readonly unknown[]): boolean => readRevision(reply, 'delete') !== 0
export const readCompareAndSetReply = (reply: readonly unknown[]): boolean =>
  readRevision(reply, 'compareAndSet') !== 0
export const readIncrementReply = (reply: readonly unknown[]): number | bigint => readIncrement(reply).value
export const readRunReply = (reply: readonly unknown[]): unknown => readRun(reply).result

export function readServerInfo(reply: readonly unknown[]): ServerInfo {
  const [version, protocol, pid, epoch, revision, clients, uptime, droppedFrames] = reply
  if (
    typeof version !== 'string' ||
    typeof protocol !== 'number' ||
    typeof pid !== 'number' ||
    typeof epoch !== 'string' ||
    !isRevision(revision) ||
    typeof clients !== 'number' ||
    typeof uptime !== 'number' ||
    typeof droppedFrames !== 'number'
  ) {
    throw malformed('server info')
  }
  return { version, protocol, pid, epoch, revision, clients, uptime, droppedFrames }
}
