// The request side of a client: one DEALER, requests packed per turn, replies matched by id.
import type { Dealer } from 'zeromq'
import { ErrorCode, TimeoutError, ZStateError, errorFromWire } from '../errors.ts'
import { arrayHeader, decode, encode, skipArrayHeader, skipItem } from '../protocol/codec.ts'
import { isList, isRequestId } from '../protocol/frames.ts'
import { NO_REPLY, Op, Push, Status } from '../protocol/ops.ts'
import { fromParts, toParts } from '../protocol/parts.ts'
import { brief, debug, debugging } from '../debug.ts'
import { receiveEach } from './received.ts'
import { SendWindow } from './send-window.ts'
import type { Traffic } from './traffic.ts'

// Turns a reply's payload into what the caller gets; throws ERR_PROTOCOL on a malformed one.
export type ReplyReader<T> = (payload: unknown[]) => T

// A message waiting to be sent. Request id 0 (NO_REPLY) gets no reply.
interface Queued {
  id: number
  readonly op: Op
  // Where the request's bytes are: until it is sent, a frame of its own, [[id, op, ...args]], encoded
  // as it is made (it keeps none of the caller's objects alive while in flight, nor sends what the
  // caller changes in them after the call); once sent with others, the frame they went in, so that a
  // write in flight keeps no buffer of its own. [id, op, ...args] starts at `start` in it (its end is
  // found when needed: only a request sent again needs it). Renumbered into a frame of its own then.
  message: Buffer
  start: number
}

// A frame taken from the queue that the send window held back: its bytes and the first and last
// request id in it (0: posts only).
interface HeldFrame {
  readonly bytes: Buffer
  readonly first: number
  readonly last: number
}

// A request awaiting its reply. One the server refused without applying it can be sent again,
// as it is, on the next link (under a new id). It is the only object a request keeps alive while in
// flight besides its promise: thousands may be, and what survives a young-generation GC costs.
export interface Pending extends Queued {
  // When it times out (ms since the epoch); Infinity for open requests, which their callers bound.
  readonly deadline: number
  // Whether a refusal hands it to onSessionLost, to be sent again, rather than failing it.
  readonly resendable: boolean
  // Reads the payload for the caller.
  readonly read: ReplyReader<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

// Errors of requests the server refused without applying them: their callers may send them again.
const refusals = new WeakSet<object>()

// Whether `error` is the server's refusal of a request it did not apply (it knew no session).
export function notApplied(error: unknown): boolean {
  return typeof error === 'object' && error !== null && refusals.has(error)
}

// Batches stay small enough that client and server work in parallel instead of taking turns.
const BATCH_REQUESTS = 512

export class Channel {
  readonly #dealer: Dealer
  readonly #traffic: Traffic
  readonly #timeout: number
  // What a failed send says (the link knows the address, and whether the server refused this client).
  readonly #sendFailureReason: (error: unknown) => Promise<string>
  readonly #pending = new Map<number, Pending>()
  // Requests the caller bounds itself (messaging calls carry their own timeout): not swept.
  readonly #open = new Map<number, Pending>()
  // What to do when a posted message (no reply) is too large to send.
  readonly #postRefused = new WeakMap<Queued, (error: ZStateError) => void>()
  #nextId = 1
  #queue: Queued[] = []
  #head = 0
  // What was sent and not yet confirmed, and the frame taken that did not fit in it.
  readonly #window = new SendWindow()
  #held: HeldFrame | undefined
  // The first and last request id of the frame #take() made last (0: posts only): fields, not an
  // object per frame, as an awaited write is a frame of its own.
  #takenFirst = 0
  #takenLast = 0
  // Whether a flush of what is queued is due in a microtask.
  #flushQueued = false
  #sweeper: NodeJS.Timeout | undefined
  #failure: ZStateError | undefined
  #sendFailing = false
  maxMessageBytes = 16 << 20
  // Whether the server answered HELLO, so speaks protocol 5: until then a message is one frame, never
  // parts, so that an older server can still refuse the version in words.
  inParts = false
  // When the last frame from the server arrived: a sign of life, like anything on PUB.
  lastHeard = Date.now()
  // Called when the server answers ERR_DISCONNECTED: it no longer knows this session. `refused`
  // are the resendable requests it did not apply, in the order they were issued; the callee owns them.
  onSessionLost: (refused: Pending[]) => void = () => {}
  // Called once when a send failed (the connection to the server is gone: a refused handshake on
  // reconnecting tears it down), after every request in flight failed: the link is lost.
  onSendFailed: (error: ZStateError) => void = () => {}
  // Called with every push from the server (a reply with request id 0): [0, kind, ...fields].
  onPush: (push: readonly unknown[]) => void = () => {}
  // A partial replica's link (lib/link/pushes.ts): pushes of commits, and every reply to a request
  // before it settles, in the order they arrive. A reply it takes (true) is settled by acknowledge().
  onCommits: (push: readonly unknown[]) => void = () => {}
  // The reason the server gave when it asked its clients to go to another server (Push.MOVE), and
  // who is told: a push that comes before anyone listens is kept here for them.
  moveAsked: string | undefined
  onMove: ((reason: string) => void) | undefined
  onReply: ((op: Op, id: number, reply: readonly unknown[]) => boolean) | undefined

  constructor(
    dealer: Dealer,
    traffic: Traffic,
    timeout: number,
    sendFailureReason: (error: unknown) => Promise<string>,
  ) {
    this.#dealer = dealer
    this.#traffic = traffic
    this.#timeout = timeout
    this.#sendFailureReason = sendFailureReason
    void this.#receiveLoop()
  }

  get inFlight(): number {
    return this.#pending.size + this.#open.size
  }

  // Sends one request; resolves with the reply payload as `read` reads it (by default, as it is), or
  // rejects with the server's error. A `resendable` request that the server refuses unapplied goes to
  // onSessionLost instead.
  request<T = unknown[]>(
    op: Op,
    args: readonly unknown[],
    resendable = false,
    read: ReplyReader<T> = asItIs as ReplyReader<T>,
  ): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const id = this.#nextId++
    let message: Buffer
    try {
      message = encodeRequest(id, op, args)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#request(id, op, message, resendable, read)
  }

  // request() of a message encodeRequest() made beforehand (with any id: it gets one of this channel).
  requestEncoded<T = unknown[]>(
    op: Op,
    message: Buffer,
    resendable = false,
    read: ReplyReader<T> = asItIs as ReplyReader<T>,
  ): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const id = this.#nextId++
    return this.#request(id, op, renumbered(message.subarray(1), id), resendable, read)
  }

  #request<T>(id: number, op: Op, message: Buffer, resendable: boolean, read: ReplyReader<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#submit({
        id,
        op,
        message,
        start: 1,
        deadline: Date.now() + this.#timeout,
        resendable,
        read,
        resolve: resolve as (value: unknown) => void,
        reject,
      })
    })
  }

  // Sends a request that another channel's server refused unapplied; it keeps its deadline.
  resend(request: Pending): void {
    if (this.#failure !== undefined) return request.reject(this.#failure)
    request.id = this.#nextId++
    const { message, start } = request
    request.message = renumbered(message.subarray(start, skipItem(message, start)), request.id)
    request.start = 1
    this.#submit(request)
  }

  #submit(request: Pending): void {
    const { id } = request
    if (debugging) {
      const [[, op, ...args]] = decode(request.message) as [unknown[]]
      debug('request #%d op %d %s', id, op, brief(args))
    }
    this.#pending.set(id, request)
    this.#armSweeper()
    this.#enqueue(request)
  }

  // Sends a request without the shared timeout: the caller bounds it and may abandon() it (its id
  // is what a CANCEL names).
  open(op: Op, args: readonly unknown[]): { id: number; reply: Promise<unknown[]> } {
    const id = this.#nextId++
    if (this.#failure !== undefined) return { id, reply: Promise.reject(this.#failure) }
    let message: Buffer
    try {
      message = encodeRequest(id, op, args)
    } catch (error) {
      return { id, reply: Promise.reject(error) }
    }
    const reply = new Promise<unknown[]>((resolve, reject) => {
      const request: Pending = {
        id,
        op,
        message,
        start: 1,
        deadline: Infinity,
        resendable: false,
        read: asItIs,
        resolve: resolve as (value: unknown) => void,
        reject,
      }
      this.#open.set(id, request)
      this.#enqueue(request)
    })
    return { id, reply }
  }

  // Forgets an open request: its reply, if one comes, is ignored.
  abandon(id: number): void {
    this.#open.delete(id)
  }

  // Sends a message that gets no reply (request id 0); dropped once the channel has failed.
  post(op: Op, args: readonly unknown[], onTooLarge?: (error: ZStateError) => void): void {
    if (this.#failure !== undefined) return
    const item: Queued = { id: NO_REPLY, op, message: encodeRequest(NO_REPLY, op, args), start: 1 }
    if (onTooLarge !== undefined) this.#postRefused.set(item, onTooLarge)
    this.#enqueue(item)
  }

  #enqueue(item: Queued): void {
    this.#queue.push(item)
    // A full frame goes at once: a caller making thousands of requests without yielding (100,000
    // set() calls in a row) has the server work on each frame meanwhile. The rest go together once
    // the caller's code yields.
    if (this.#queue.length - this.#head >= BATCH_REQUESTS) this.#flush()
    else if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flushQueuedNow)
    }
  }

  readonly #flushQueuedNow = (): void => {
    this.#flushQueued = false
    this.#flush()
  }

  // Every request in flight fails with `error`, and so does every later one.
  fail(error: ZStateError): void {
    this.#failure ??= error
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#queue = []
    this.#head = 0
    this.#held = undefined
    this.#window.clear()
    const pending = [...this.#pending.values(), ...this.#open.values()]
    this.#pending.clear()
    this.#open.clear()
    for (const request of pending) request.reject(this.#failure)
  }

  // Sends what is queued, as few frames as the server's limit allows; a request over the limit on its
  // own is refused. The DEALER queues without limit and sends with sendTimeout 0 (lib/link/link.ts),
  // so libzmq takes each frame, in order, before send() returns; but a frame goes only within the
  // send window (lib/link/send-window.ts): one that does not fit is held, and a PING asks the server
  // to confirm what it has, its reply sending the rest.
  #flush(): void {
    try {
      while (this.#failure === undefined && !this.#sendFailing) {
        const held = this.#held
        const bytes = held?.bytes ?? this.#take()
        if (bytes === undefined) {
          if (this.#head < this.#queue.length) continue
          return
        }
        const first = held?.first ?? this.#takenFirst
        const last = held?.last ?? this.#takenLast
        if (!this.#window.admits(bytes.length, this.maxMessageBytes)) {
          this.#held = held ?? { bytes, first, last }
          return this.#askConfirmation()
        }
        this.#held = undefined
        this.#transmit(bytes, first, last)
      }
    } catch (error) {
      this.#sendFailed(error)
    }
  }

  #transmit(message: Buffer, first: number, last: number, asking = false): void {
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    }
    this.#window.sent(first, last, message.length, asking)
    this.#traffic.messagesOut++
    this.#traffic.bytesOut += message.length
    this.#dealer.send(this.inParts ? toParts(message) : message).catch(this.#sendFailed)
  }

  // A PING sent ahead of what is held: its reply confirms every frame sent before it, and the next
  // frame held then asks again (one PING out at a time).
  #askConfirmation(): void {
    if (this.#window.asking) return
    const id = this.#nextId++
    const message = encodeRequest(id, Op.PING, [])
    this.#pending.set(id, {
      id,
      op: Op.PING,
      message,
      start: 1,
      deadline: Date.now() + this.#timeout,
      resendable: false,
      read: asItIs,
      // Its reply matters only as a confirmation (#settle); a channel that fails clears the window.
      resolve: () => {},
      reject: () => {},
    })
    this.#armSweeper()
    this.#transmit(message, id, id, true)
  }

  // A reply or acknowledgement of request `id`: what it confirms may let held frames go.
  #confirm(id: number): void {
    if (this.#window.confirm(id) && (this.#held !== undefined || this.#head < this.#queue.length))
      this.#flush()
  }

  // Nothing more is sent once a send failed; what is in flight, and what comes meanwhile, fails once
  // the reason is known.
  readonly #sendFailed = (error: unknown): void => {
    if (this.#failure !== undefined || this.#sendFailing) return
    this.#sendFailing = true
    void this.#sendFailureReason(error).then((reason) => {
      const failure = new ZStateError(ErrorCode.DISCONNECTED, reason, { cause: error })
      this.fail(failure)
      this.onSendFailed(failure)
    })
  }

  // The next requests as one frame, up to BATCH_REQUESTS of them and the server's limit: a request
  // alone as it was encoded, several joined under one header (each copied once, and then kept there).
  // Undefined when the first one alone is over the limit (refused). Queued requests are frames of
  // their own: `start` is 1, past the header of the one-request batch. Its request ids: #takenFirst,
  // #takenLast.
  #take(): Buffer | undefined {
    const queue = this.#queue
    if (this.#head === queue.length) return undefined
    const first = queue[this.#head]!
    if (first.message.length > this.maxMessageBytes) {
      this.#head++
      this.#refuseTooLarge(first, first.message.length)
      return undefined
    }
    const last = Math.min(queue.length, this.#head + BATCH_REQUESTS)
    // `bytes`: the requests without their own frames' headers (1 byte each); a batch's header takes 3 at most.
    let bytes = first.message.length - 1
    let end = this.#head + 1
    while (end < last && 3 + bytes + queue[end]!.message.length - 1 <= this.maxMessageBytes)
      bytes += queue[end++]!.message.length - 1
    const start = this.#head
    this.#head = end
    this.#takenFirst = this.#takenLast = first.id
    if (end === start + 1) return first.message
    const header = arrayHeader(end - start)
    const frame = Buffer.allocUnsafe(header.length + bytes)
    let at = header.copy(frame, 0)
    for (let i = start; i < end; i++) {
      const item = queue[i]!
      const length = item.message.copy(frame, at, 1)
      item.message = frame
      item.start = at
      at += length
      // Ids grow along the queue; posts have none (NO_REPLY, 0).
      if (item.id !== NO_REPLY) {
        if (this.#takenFirst === NO_REPLY) this.#takenFirst = item.id
        this.#takenLast = item.id
      }
    }
    return frame
  }

  #refuseTooLarge(item: Queued, bytes: number): void {
    const { id } = item
    const error = new ZStateError(
      ErrorCode.TOO_LARGE,
      `request of ${bytes} bytes exceeds the server's maxMessageBytes (${this.maxMessageBytes})`,
    )
    if (id === NO_REPLY) return this.#postRefused.get(item)?.(error)
    const pending = this.#pending.get(id) ?? this.#open.get(id)
    this.#pending.delete(id)
    this.#open.delete(id)
    pending?.reject(error)
  }

  #receiveLoop(): Promise<void> {
    return receiveEach(this.#dealer, (frames) => {
      const frame = fromParts(frames, 0)
      if (frame === undefined) return
      this.lastHeard = Date.now()
      this.#traffic.messagesIn++
      this.#traffic.bytesIn += frame.length
      let replies: unknown
      try {
        replies = decode(frame)
      } catch {
        return // a reply we cannot read; its request will time out
      }
      if (isList(replies)) for (const reply of replies) this.#settle(reply)
    })
  }

  #moveAsked(reason: unknown): void {
    this.moveAsked = typeof reason === 'string' ? reason : 'the server asked its clients to move'
    this.onMove?.(this.moveAsked)
  }

  // A write acknowledged by its commit (applied to the replica by now): settles like an OK reply.
  acknowledge(id: number, payload: unknown[]): void {
    this.#confirm(id)
    const request = this.#pending.get(id) ?? this.#open.get(id)
    if (request === undefined) return
    if (debugging) debug('acknowledged #%d by its commit %s', id, brief(payload))
    this.#pending.delete(id)
    this.#open.delete(id)
    resolveWith(request, payload)
  }

  #settle(reply: unknown): void {
    if (!isList(reply) || !isRequestId(reply[0])) return
    if (debugging) debug('reply #%d %s', reply[0], brief(reply.slice(1)))
    if (reply[0] === NO_REPLY) {
      if (reply[1] === Push.COMMITS) return this.onCommits(reply)
      if (reply[1] === Push.MOVE) return this.#moveAsked(reply[2])
      return this.onPush(reply)
    }
    this.#confirm(reply[0])
    const request = this.#pending.get(reply[0]) ?? this.#open.get(reply[0])
    if (request === undefined) return
    if (this.onReply?.(request.op, reply[0], reply) === true) return
    if (reply[1] === Status.OK) {
      this.#pending.delete(reply[0])
      this.#open.delete(reply[0])
      return resolveWith(request, reply.slice(2))
    }
    const error = errorFromWire(reply[2], reply[3], reply[4], reply[5])
    if (error.code === ErrorCode.DISCONNECTED) return this.#refused(reply[0], error)
    this.#pending.delete(reply[0])
    this.#open.delete(reply[0])
    request.reject(error)
  }

  // The server no longer knows this session. It handles a DEALER's requests in order and opens a
  // session only on HELLO, which a channel sends first or never, so it applied neither this request
  // nor any sent after it, and refuses those too (docs/protocol.md, Sessions). The resendable ones
  // go to onSessionLost; the others fail, marked as not applied. Nothing more is sent here. Earlier
  // requests still in flight stay: their outcome is unknown, and whoever closes the channel fails them.
  #refused(first: number, error: ZStateError): void {
    refusals.add(error)
    this.#queue = []
    this.#head = 0
    this.#held = undefined
    const refused: Pending[] = []
    for (const requests of [this.#pending, this.#open]) {
      for (const [id, request] of requests) {
        if (id < first) continue
        requests.delete(id)
        if (request.resendable) refused.push(request)
        else request.reject(error)
      }
    }
    this.onSessionLost(refused)
  }

  // One timer for all requests. They share one timeout, but a request sent again keeps its first
  // deadline, so every one is checked.
  #armSweeper(): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.min(250, this.#timeout / 4)))
    this.#sweeper.unref()
  }

  // forEach, not for…of: with thousands of writes in flight, an [id, request] pair per request and
  // sweep was a good part of the client's garbage.
  #sweep(): void {
    const now = Date.now()
    this.#pending.forEach((request, id) => {
      if (request.deadline > now) return
      this.#pending.delete(id)
      request.reject(
        new TimeoutError(`request timed out after ${this.#timeout} ms (no reply from the server)`),
      )
    })
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
    }
  }
}

// A request as a frame of its own, [[id, op, ...args]]: sent as it is when it goes alone. The
// values in it were checked, but a getter may return another value when msgpackr reads it again:
// what msgpackr then refuses is ERR_UNENCODABLE too, not its own error.
export function encodeRequest(id: number, op: Op, args: readonly unknown[]): Buffer {
  try {
    return encode([[id, op, ...args]])
  } catch (error) {
    if (error instanceof ZStateError) throw error
    throw new ZStateError(ErrorCode.UNENCODABLE, `value cannot be stored: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

// The header of a batch of one request.
const ONE_REQUEST = arrayHeader(1)

// A request, [id, op, ...args] as encodeRequest() made it, in a frame of its own under another id.
function renumbered(request: Buffer, id: number): Buffer {
  const at = skipArrayHeader(request, 0)
  return Buffer.concat([
    ONE_REQUEST,
    request.subarray(0, at),
    encode(id),
    request.subarray(skipItem(request, at)),
  ])
}

// The reader of requests whose callers take the payload as it is.
const asItIs: ReplyReader<unknown[]> = (payload) => payload

function resolveWith(request: Pending, payload: unknown[]): void {
  let value: unknown
  try {
    value = request.read(payload)
  } catch (error) {
    return request.reject(error)
  }
  request.resolve(value)
}
