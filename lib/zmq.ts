// zeromq, loaded with require: it is CommonJS, and importing it as an ES module first has Node scan its
// source for named exports, about 5 ms of every process's start (a child's, the server's).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { isMainThread } from 'node:worker_threads'

type Zmq = typeof import('zeromq')
type SocketClass = abstract new (...args: never[]) => object

// Loaded with this module in a process's main thread, as part of its start-up (a warm child's too);
// in a worker thread only when it makes a socket or key pair of its own: a thread child's client
// makes only proxies (process/thread-sockets.ts), and a thread that has loaded zeromq's addon can
// abort the whole process when it is terminated (zeromq.js#411).
let loaded: Zmq | undefined
function zeromq(): Zmq {
  if (loaded !== undefined) return loaded
  loaded = createRequire(import.meta.url)('zeromq') as Zmq
  raiseMaxSockets(loaded.context)
  return loaded
}

// libzmq refuses a context's socket past ZMQ_MAX_SOCKETS (1,023 by default) with EMFILE, long before
// the fd limit: a parent serving 200 thread children reached it (each child's DEALER, SUB and the
// DEALER's monitor, two PAIRs, are its sockets). A socket holds an fd and its connections more, so the
// context may have a quarter of the process's fd limit. It counts only before the first socket.
function raiseMaxSockets(context: Zmq['context']): void {
  const fds = openFileLimit()
  if (fds === undefined) return
  context.maxSockets = Math.max(context.maxSockets, Math.min(context.maxSocketsLimit, Math.floor(fds / 4)))
}

// The soft RLIMIT_NOFILE (Node raises it to the hard one at start); undefined where /proc has no say.
function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

// How many sockets this process's ZeroMQ context may hold: what a failure to open one names.
export function maxSockets(): number {
  return zeromq().context.maxSockets
}

// Two calls fail with EINTR when a signal lands meanwhile (a profiler's SIGPROF, a SIGCHLD): making a
// socket (zmq_socket and the options set with it) and connecting one (zmq_connect first processes
// the socket's pending commands). libzmq leaves the retry to its caller and zeromq.js throws it, so
// both try again, a few times; neither has done anything when it fails so.
const TRIES = 10

function retryInterrupted<T>(call: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return call()
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EINTR' || attempt >= TRIES) throw error
    }
  }
}

export function retryingInterrupted<C extends SocketClass>(Class: C): C {
  return new Proxy(Class, {
    construct: (target, args, newTarget): object =>
      retryInterrupted((): object => Reflect.construct(target, args, newTarget) as object),
  })
}

// A socket class that loads zeromq (see zeromq() above) when the first of its sockets is made, and
// makes each as retryingInterrupted's classes do.
function lazySocketClass<C extends SocketClass>(load: (zmq: Zmq) => C): C {
  let Class: C | undefined
  return new Proxy(function unloaded() {} as unknown as C, {
    construct: (_target, args): object =>
      retryInterrupted((): object => Reflect.construct((Class ??= load(zeromq())), args) as object),
  })
}

// socket.connect(address), tried again on EINTR (zeromq.js sockets take no method of their own).
export function connectSocket(socket: { connect(address: string): void }, address: string): void {
  retryInterrupted(() => socket.connect(address))
}

// Sends on a socket made with sendTimeout 0, which spares zeromq.js a readiness check (a
// zmq_getsockopt, a few µs) per send; one the socket cannot take now (its high-water mark: the peer is
// not reading) is sent again, waiting as a socket without the timeout would.
export async function sendOrWait<M>(
  socket: { send(message: M): Promise<void>; sendTimeout: number },
  message: M,
): Promise<void> {
  try {
    await socket.send(message)
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EAGAIN') throw error
    socket.sendTimeout = -1
    try {
      await socket.send(message)
    } finally {
      socket.sendTimeout = 0
    }
  }
}

// A SUB sends only its subscriptions, through its send queue, and libzmq drops those past the queue's
// high-water mark (1,000 by default), at a reconnection too, where it sends them all again at once:
// subscriptions past the thousandth were lost, silently. Every SUB of zstate's has no such mark.
// zeromq.js offers ZMQ_SNDHWM only on sockets that send messages, so it is set by its number.
const ZMQ_SNDHWM = 23
function unboundedSubscriber(zmq: Zmq): Zmq['Subscriber'] {
  return class UnboundedSubscriber extends zmq.Subscriber {
    constructor(...args: ConstructorParameters<Zmq['Subscriber']>) {
      super(...args)
      ;(this as unknown as { setInt32Option(option: number, value: number): void }).setInt32Option(
        ZMQ_SNDHWM,
        0,
      )
    }
  }
}

// A tcp port a socket of this process closed a moment ago may still be bound: libzmq closes a listener
// in its own I/O thread, after close() returned. Binding it again is retried for about a second; a
// port another process holds fails after that.
const REBIND_MS = 1_000

export async function bindFreed(
  socket: { bind(address: string): Promise<void> },
  address: string,
): Promise<void> {
  const deadline = Date.now() + REBIND_MS
  for (;;) {
    try {
      return await socket.bind(address)
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || Date.now() >= deadline) throw error
      await sleep(20)
    }
  }
}

if (isMainThread) zeromq()

export const Dealer = lazySocketClass((zmq) => zmq.Dealer)
export const Publisher = lazySocketClass((zmq) => zmq.Publisher)
export const Router = lazySocketClass((zmq) => zmq.Router)
export const Subscriber = lazySocketClass(unboundedSubscriber)
export function curveKeyPair(): { publicKey: string; secretKey: string } {
  return zeromq().curveKeyPair()
}
export type Dealer = import('zeromq').Dealer
export type Publisher = import('zeromq').Publisher
export type Router = import('zeromq').Router
export type Subscriber = import('zeromq').Subscriber
