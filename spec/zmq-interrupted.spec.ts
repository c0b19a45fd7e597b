// Making or connecting a zeromq socket can fail with EINTR when a signal lands meanwhile (seen in
// children run under a sampling profiler); lib/zmq.ts makes both try again. The retry, on a class
// that fails the way zeromq.js does, and the wrapped classes on real sockets.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as zeromq from 'zeromq'
import { Dealer, Subscriber, connectSocket, retryingInterrupted } from '../lib/zmq.ts'

function interrupted(code: string): Error {
  return Object.assign(new Error('Interrupted system call'), { code })
}

function failing(failures: number, code: string) {
  let calls = 0
  class Flaky {
    readonly made = ++calls
    readonly option: number
    connects = 0
    connected: string | undefined
    constructor(option: number) {
      if (calls <= failures) throw interrupted(code)
      this.option = option
    }
    connect(address: string): void {
      if (++this.connects <= failures) throw interrupted(code)
      this.connected = address
    }
  }
  return { Flaky, calls: () => calls }
}

test('zmq: new and connect try again after EINTR, and only after EINTR, up to ten times', () => {
  const twice = failing(2, 'EINTR')
  const Retried = retryingInterrupted(twice.Flaky)
  const made = new Retried(7)
  assert.equal(made.option, 7)
  assert.equal(made.made, 3)
  assert.ok(made instanceof twice.Flaky && made instanceof Retried)
  connectSocket(made, 'tcp://127.0.0.1:1')
  assert.deepEqual([made.connects, made.connected], [3, 'tcp://127.0.0.1:1'])

  const other = failing(1, 'EMFILE')
  assert.throws(() => new (retryingInterrupted(other.Flaky))(1), { code: 'EMFILE' })
  assert.equal(other.calls(), 1, 'any other error at once')

  const always = failing(Infinity, 'EINTR')
  assert.throws(() => new (retryingInterrupted(always.Flaky))(1), { code: 'EINTR' })
  assert.equal(always.calls(), 10)
})

test('zmq: the wrapped classes make real zeromq sockets', () => {
  const dealer = new Dealer({ linger: 0 })
  const sub = new Subscriber({ linger: 0 })
  try {
    assert.ok(dealer instanceof zeromq.Dealer)
    assert.ok(sub instanceof zeromq.Subscriber)
    assert.equal(dealer.linger, 0)
    connectSocket(dealer, 'tcp://127.0.0.1:9')
  } finally {
    dealer.close()
    sub.close()
  }
})
