// What messaging needs from its client, and requests the server answers late (a call waits for its
// provider, waitForService for providers), bounded by the caller's timeout and signal.
import { ErrorCode, isZStateError } from '../errors.ts'
import { Op } from '../protocol/ops.ts'
import { notApplied } from '../link/channel.ts'
import type { Link } from '../link/link.ts'
import { armWait, type Caller, type Refusal, type WaitOptions } from '../wait.ts'

export interface MessagingHost {
  // The current link, or the next one after a reconnection; rejects with ERR_CLOSED once closed.
  nextLink(): Promise<Link>
  // Why the server the client tries to rejoin refuses it: a request's timeout names it.
  readonly refusal: Refusal
  // One ordinary request, waiting for a reconnection within the client's requestTimeout.
  request(op: Op, args: readonly unknown[]): Promise<unknown[]>
  // The same, bounded by the caller's timeout and signal; given up on before it was sent, never sent.
  requestWithin(
    op: Op,
    args: readonly unknown[],
    options: WaitOptions | undefined,
    what: string,
  ): Promise<unknown[]>
}

export interface LateRequest {
  op: Op
  // The request's arguments, given the time left of the caller's timeout (undefined: none).
  args: (remaining: number | undefined) => unknown[]
  wait: WaitOptions
  what: string
  // Timeouts show the stack from this function's caller on (wait.ts).
  caller?: Caller
  // Send again on the next link when the server is lost meanwhile (only for what is idempotent). A
  // request the server refused unapplied (it had forgotten this client) is sent again regardless.
  resend: boolean
}

// Giving up (timeout, signal) abandons the request and tells the server with CANCEL.
export function lateRequest(host: MessagingHost, request: LateRequest): Promise<unknown[]> {
  return new Promise<unknown[]>((resolve, reject) => {
    const started = Date.now()
    const { timeout } = request.wait
    let done = false
    let current: { link: Link; id: number } | undefined
    let disarm = (): void => {}
    const finish = (error: unknown, value?: unknown[]): void => {
      if (done) return
      done = true
      disarm()
      if (error === undefined) resolve(value!)
      else reject(error)
    }
    disarm = armWait(
      request.wait,
      request.what,
      (error) => {
        if (current !== undefined) {
          current.link.channel.abandon(current.id)
          current.link.channel.post(Op.CANCEL, [current.id])
        }
        finish(error)
      },
      request.caller,
      host.refusal,
    )
    const send = async (): Promise<void> => {
      while (!done) {
        const link = await host.nextLink()
        if (done) return
        const remaining = timeout === undefined ? undefined : Math.max(0, timeout - (Date.now() - started))
        const { id, reply } = link.channel.open(request.op, request.args(remaining))
        current = { link, id }
        try {
          return finish(undefined, await reply)
        } catch (error) {
          current = undefined
          const again = request.resend || notApplied(error)
          if (!(again && isZStateError(error) && error.code === ErrorCode.DISCONNECTED)) throw error
        }
      }
    }
    if (!done) send().catch((error: unknown) => finish(error))
  })
}
