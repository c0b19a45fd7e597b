// zeromq, loaded with require: it is CommonJS, and importing it as an ES module first has Node scan its
// source for named exports, about 5 ms of every process's start (a child's, the server's, a thread's).
import { createRequire } from 'node:module'

const zmq = createRequire(import.meta.url)('zeromq') as typeof import('zeromq')

export const { Dealer, Publisher, Router, Subscriber, curveKeyPair } = zmq
export type Dealer = import('zeromq').Dealer
export type Publisher = import('zeromq').Publisher
export type Router = import('zeromq').Router
export type Subscriber = import('zeromq').Subscriber
