// The zeromq socket classes the client side constructs. A worker thread spawned by zstate swaps them
// for proxies its parent thread serves (lib/process/thread-sockets.ts): zeromq.js aborts the whole
// process when a thread ends while one of its sockets has a receive pending (zeromq.js#411), so such
// threads own no socket of their own.
import { Dealer, Subscriber } from '../zmq.ts'

export interface SocketClasses {
  Dealer: typeof Dealer
  Subscriber: typeof Subscriber
}

export const sockets: SocketClasses = { Dealer, Subscriber }

export function useSockets(classes: SocketClasses): void {
  sockets.Dealer = classes.Dealer
  sockets.Subscriber = classes.Subscriber
}
