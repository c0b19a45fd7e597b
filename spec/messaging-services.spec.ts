import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect, isZStateError, RemoteError, TimeoutError } from '../lib/index.ts'
import { deferred } from '../lib/deferred.ts'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { fixture, serverFor, tempDir, transports } from './support.ts'
import { clients, codeOf, providerProcess } from './messaging-support.ts'
import { until } from './process-support.ts'

for (const transport of transports) {
  test(`messaging: a call reaches a provider in another process and returns its result (${transport})`, async (t) => {
    const server = await serverFor(t, transport)
    await providerProcess(t, server.address, 'math', 'p1')
    await using client = await connect(server.address)
    assert.equal(await client.call('math', 'add', [2, 3]), 5)
    assert.equal(await client.call('math', 'whoami'), 'p1')
    const value = {
      n: -1.5,
      big: 2n ** 62n,
      when: new Date(0),
      bytes: new Uint8Array([1, 2, 3]),
      list: [null, true, 'x', { deep: ['y'] }],
    }
    const echoed = await client.call<typeof value>('math', 'echo', [value])
    assert.deepEqual(echoed, value)
    assert.ok(Object.isFrozen(echoed) && Object.isFrozen(echoed.list), 'results are frozen like state values')
  })
}

test('messaging: handler errors come back as RemoteError with remote name, code, stack and pid', async (t) => {
  const server = await serverFor(t, 'ipc')
  await providerProcess(t, server.address, 'errors', 'p1')
  await using client = await connect(server.address)
  const pid = await client.call<number>('errors', 'pid')

  const thrown = await client.call('errors', 'fail', ['it broke', 'E_BROKEN']).catch((e: unknown) => e)
  assert.ok(thrown instanceof RemoteError && isZStateError(thrown))
  assert.equal(thrown.code, 'ERR_REMOTE')
  assert.equal(thrown.message, 'it broke')
  assert.equal(thrown.remoteName, 'Error')
  assert.equal(thrown.remoteCode, 'E_BROKEN')
  assert.equal(thrown.pid, pid)
  assert.match(thrown.stack ?? '', /failingHandler[\s\S]*remote boundary/)

  const rejected = await client.call('errors', 'rejects', ['async bad']).catch((e: unknown) => e)
  assert.ok(rejected instanceof RemoteError)
  assert.equal(rejected.remoteName, 'TypeError')
  assert.equal(rejected.message, 'async bad')
  assert.equal(rejected.remoteCode, undefined)

  const nonError = await client.call('errors', 'throwValue', [{ why: 42 }]).catch((e: unknown) => e)
  assert.ok(nonError instanceof RemoteError)
  assert.equal(nonError.remoteName, 'NonError')
  assert.deepEqual(nonError.value, { why: 42 })
  assert.equal('value' in thrown, false, 'only a thrown non-Error has a value')

  // Its cause comes along, a chain of RemoteErrors as from a child, cut at 16 links.
  const caused = (await client.call('errors', 'caused', [2]).catch((e: unknown) => e)) as RemoteError
  assert.equal(caused.message, 'link 1')
  const second = caused.cause as RemoteError
  assert.ok(second instanceof RemoteError)
  assert.deepEqual(
    [second.message, second.remoteName, second.remoteCode, second.pid],
    ['link 2', 'TypeError', 'E_2', pid],
  )
  const bottom = second.cause as RemoteError
  assert.deepEqual(
    [bottom.remoteName, bottom.value, bottom.cause],
    ['NonError', { thrown: 'at the bottom' }, undefined],
  )
  let links = 0
  for (
    let e: unknown = await client.call('errors', 'caused', [40]).catch((e: unknown) => e);
    e;
    e = (e as Error).cause
  )
    links++
  assert.equal(links, 17, 'the error and 16 causes')

  // The provider is still fine afterwards.
  assert.equal(await client.call('errors', 'add', [1, 1]), 2)
})

test('messaging: whatever a handler throws, however hostile, reaches its caller and frees the provider', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  // An Error whose field throws when read, or a Proxy whose every look at it throws.
  const bomb = (field: string): unknown => {
    if (field === 'proxy')
      return new Proxy(new Error('proxied'), {
        getPrototypeOf: () => {
          throw new Error('trap bomb')
        },
        get: () => {
          throw new Error('trap bomb')
        },
      })
    const error = new Error('x')
    Object.defineProperty(error, field, {
      get: () => {
        throw new Error('getter bomb')
      },
    })
    return error
  }
  const handle = await a.provide(
    't',
    {
      throwIt: (field: string) => {
        throw bomb(field)
      },
      lookalike: () => {
        throw { name: 'Fake', message: 'not an Error' }
      },
      numericName: () => {
        throw Object.assign(new Error('named 7'), { name: 7 })
      },
      ok: () => 'ok',
    },
    { concurrency: 1 },
  )
  const expected: Record<string, [name: string, message: string]> = {
    message: ['Error', ''],
    stack: ['Error', 'x'],
    name: ['Error', 'x'],
    cause: ['Error', 'x'],
    code: ['Error', 'x'],
    proxy: ['NonError', '[an unreadable value]'],
  }
  for (const [field, [name, message]] of Object.entries(expected)) {
    const error = await b.call('t', 'throwIt', [field], { timeout: 10_000 }).catch((e: unknown) => e)
    assert.ok(error instanceof RemoteError, `${field}: ${String(error)}`)
    assert.deepEqual([error.remoteName, error.message], [name, message], field)
    // Its one slot is free again: a call that never came back would hold it for good.
    assert.equal(await b.call('t', 'ok', [], { timeout: 10_000 }), 'ok', field)
  }
  // An object that only looks like an Error is a NonError, as a child's is (API.md).
  const lookalike = (await b.call('t', 'lookalike').catch((e: unknown) => e)) as RemoteError
  assert.deepEqual(
    [lookalike.remoteName, lookalike.value],
    ['NonError', { name: 'Fake', message: 'not an Error' }],
  )
  const numeric = (await b.call('t', 'numericName').catch((e: unknown) => e)) as RemoteError
  assert.deepEqual([numeric.remoteName, numeric.message], ['Error', 'named 7'])
  await handle.close()
  assert.deepEqual(await b.services(), [])
  // A class's methods are offered, not those of a built-in it extends: no remote emit('error').
  class Emitting extends EventEmitter {
    hello(): string {
      return 'hi'
    }
  }
  const emitting = await a.provide<Emitting>('emitting', new Emitting())
  assert.deepEqual(
    (await b.services()).map((s) => s.methods),
    [['hello']],
  )
  assert.equal(await codeOf(b.call('emitting', 'emit', ['error', 'boom'])), 'ERR_INVALID_ARGUMENT')
  assert.equal(await b.call('emitting', 'hello'), 'hi')
  await emitting.close()
})

// An error that would not fit in a message (a 20 MB message): before, its caller got ERR_TOO_LARGE
// and never learned that the handler threw.
test('messaging: a handler error too large to send reaches its caller as a RemoteError, cut, with its code', async (t) => {
  const server = await serverFor(t, 'ipc', { maxMessageBytes: 1 << 20 })
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide('t', {
    huge: () => {
      throw Object.assign(new Error('😀'.repeat(10_000_000)), { code: 'E_HUGE' })
    },
  })
  const error = await b.call('t', 'huge').catch((e: unknown) => e)
  assert.ok(error instanceof RemoteError, String(error))
  assert.deepEqual([error.remoteName, error.remoteCode], ['Error', 'E_HUGE'])
  assert.match(error.message, /^(😀)+… \(\d+ more characters cut: too large to send\)$/u)
  assert.ok(error.message.length < 20_000, `${error.message.length} characters`)
})

// A class's constructor is none of its methods, but an own function of that name is one.
test('messaging: a handler named constructor is offered and called like any other', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  const handle = await a.provide('t', { constructor: () => 'built', other: () => 'other' })
  assert.deepEqual([...handle.methods].sort(), ['constructor', 'other'])
  assert.equal(await b.call('t', 'constructor'), 'built')
})

// 256 KiB of arguments each, 50 MiB at once, where the server lets 32 MiB of a client's frames wait:
// before, 74 of these 200 were refused with ERR_OVERFLOW.
test('messaging: calls made at once with large arguments, more bytes than the server lets wait, all run', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide('t', { size: (text: string) => text.length }, { concurrency: 8 })
  const sizes = await Promise.all(
    Array.from({ length: 200 }, (_, i) => b.call('t', 'size', ['x'.repeat(256 * 1024 + i)])),
  )
  assert.deepEqual(
    sizes,
    Array.from({ length: 200 }, (_, i) => 256 * 1024 + i),
  )
})

// Frames held back by the send window go as soon as the server confirms what it has, calls and a
// provider's results alike: before, after the first, one went per heartbeat (here 5 s), as the
// PING asking for a confirmation was still counted as out when its own reply came.
test('messaging: large calls and results held back by the send window go at once, not one per heartbeat', async (t) => {
  const server = await serverFor(t, 'ipc', { maxMessageBytes: 1 << 20, heartbeatMs: 5_000 })
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  let arrived = 0
  const release = deferred<void>()
  await a.provide(
    't',
    {
      echo: async (text: string) => {
        arrived++
        await release.promise
        return text
      },
    },
    { concurrency: 64 },
  )
  // 600 kB each, where 1 MiB may be unconfirmed: one frame each, held until the one before is confirmed.
  const texts = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(600_000, 'x'))
  let settled = 0
  const calls = texts.map((text) => b.call('t', 'echo', [text]).finally(() => settled++))
  await until(() => arrived === 10, 'every call reached the provider', 4_000)
  release.resolve()
  await until(() => settled === 10, 'every result reached its caller', 4_000)
  assert.deepEqual(await Promise.all(calls), texts)
})

// A handler whose own call failed has failed: its caller gets a RemoteError, not the broker's error
// as if its own call had never run (ERR_NO_PROVIDER says nothing ran; here the handler had).
test('messaging: a handler whose own call fails gives its caller a RemoteError carrying that call’s code', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [provider, caller] = group.clients
  let charged = 0
  // What `slow` waits for: released once its caller gave up after 50 ms.
  const released = deferred<void>()
  await provider.provide('billing', {
    async charge(amount: number) {
      charged += amount
      await provider.call('audit', 'log', [amount])
    },
    async quick() {
      await provider.call('billing', 'slow', [], { timeout: 50 })
    },
    async slow() {
      await released.promise
    },
    undefinedThrown() {
      throw undefined
    },
  })
  try {
    for (const [method, args, code] of [
      ['charge', [5], 'ERR_NO_PROVIDER'],
      ['quick', [], 'ERR_TIMEOUT'],
    ] as const) {
      const error = await caller.call('billing', method, [...args]).catch((e: unknown) => e)
      assert.ok(error instanceof RemoteError, `${method}: ${String(error)}`)
      assert.equal(error.code, 'ERR_REMOTE')
      assert.equal(error.remoteCode, code)
      assert.equal(error.pid, process.pid)
    }
  } finally {
    released.resolve()
  }
  assert.equal(charged, 5, 'the handler ran')
  const thrown = await caller.call('billing', 'undefinedThrown').catch((e: unknown) => e)
  assert.ok(thrown instanceof RemoteError)
  assert.deepEqual([thrown.remoteName, thrown.value], ['NonError', 'undefined'])
  // A wrong type shows as one: the string '2' is not the number 2.
  await assert.rejects(provider.provide('other', { a() {} }, { concurrency: '2' as unknown as number }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /concurrency must be an integer ≥ 1, got "2"$/,
  })
  await assert.rejects(caller.call('billing', 'slow', [], { timeout: '5' as unknown as number }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /timeout must be a non-negative number of ms, got "5"$/,
  })
})

test('messaging: unknown method, missing provider, unencodable values and bad arguments are refused', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide('math', { add: (x: number, y: number) => x + y })

  assert.equal(await codeOf(b.call('math', 'sub', [1, 2])), 'ERR_INVALID_ARGUMENT')
  // No provider: refused at once, long before the call's own timeout.
  assert.equal(await codeOf(b.call('nobody', 'add', [1, 2], { timeout: 600_000 })), 'ERR_NO_PROVIDER')
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  for (const bad of [[() => 1], [undefined], [new Map()], [cyclic], [{ a: [1, Symbol('s')] }]]) {
    assert.equal(await codeOf(b.call('math', 'add', bad)), 'ERR_UNENCODABLE')
  }
  await assert.rejects(b.call('math', 'add', [{ f: () => 1 }]), /args\[0\]\.f cannot be sent: function/)
  assert.equal(await codeOf(b.publish('topic', undefined)), 'ERR_UNENCODABLE')

  const invalid = [
    b.call('', 'add', []),
    b.call('math', '', []),
    b.call(7 as unknown as string, 'add', []),
    b.call('math', 'add', 'not an array' as unknown as unknown[]),
    b.call('math', 'add', [], { timeout: -1 }),
    b.publish('', 1),
    a.provide('empty', {}),
    // Built-in objects offer no methods: a Map's set() or an array's join() is no service.
    a.provide('map', new Map([['f', () => 1]]) as never),
    a.provide('array', [() => 1] as never),
    a.provide('', { f: () => 1 }),
    a.provide('x', { f: () => 1 }, { concurrency: 0 }),
    b.waitForService('math', { providers: 0 }),
  ]
  for (const promise of invalid) assert.equal(await codeOf(promise), 'ERR_INVALID_ARGUMENT')
  assert.throws(() => b.subscribe(5 as unknown as string), /prefix must be a string/)
  assert.throws(() => b.service(''), /must not be empty/)
  // Still working.
  assert.equal(await b.call('math', 'add', [1, 2]), 3)
})

test('messaging: a call times out with ERR_TIMEOUT, or ends with signal.reason unchanged', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide('slow', { hold: () => new Promise(() => {}), ok: () => 'ok' }, { concurrency: 1 })

  const timedOut = await b.call('slow', 'hold', [], { timeout: 50 }).catch((e: unknown) => e)
  assert.ok(timedOut instanceof TimeoutError)
  assert.equal(timedOut.code, 'ERR_TIMEOUT')
  assert.equal(timedOut.message, 'call slow.hold timed out after 50 ms')

  // The only slot is now held forever: later calls wait in the server's queue.
  const reason = { mine: true }
  const controller = new AbortController()
  const aborted = b.call('slow', 'ok', [], { signal: controller.signal })
  await b.server() // by now the call has left this client
  controller.abort(reason)
  await assert.rejects(aborted, (error) => error === reason)
  await assert.rejects(b.call('slow', 'ok', [], { signal: AbortSignal.abort(reason) }), (e) => e === reason)
  assert.equal(await codeOf(b.call('slow', 'ok', [], { timeout: 50 })), 'ERR_TIMEOUT')
})

test('messaging: publish, services and provide take timeout and signal; a provide that timed out is withdrawn', async (t) => {
  const address = `ipc://${join(tempDir(t), 'state')}`
  const server = fixture(t, 'server', [JSON.stringify({ address })])
  await server.event(1)
  // Heartbeats do not give up on the stopped server: requests stay pending on it.
  await using a = await connect(address, { heartbeatTimeout: 60_000 })
  await using b = await connect(address, { heartbeatTimeout: 60_000 })
  for (const wrong of [{ bogus: 1 }, { timeout: -1 }, { signal: 'no' }]) {
    await assert.rejects(a.publish('t', 1, wrong as never), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(a.services(wrong as never), { code: 'ERR_INVALID_ARGUMENT' })
    await assert.rejects(a.provide('p', { f: () => 1 }, wrong as never), { code: 'ERR_INVALID_ARGUMENT' })
  }
  // A server that answers nothing for a while.
  server.child.kill('SIGSTOP')
  let stopped = true
  t.after(() => {
    if (stopped) server.child.kill('SIGCONT')
  })
  const reason = { mine: true }
  const controller = new AbortController()
  const aborted = [
    a.publish('t', 1, { signal: controller.signal }),
    a.services({ detail: true, signal: controller.signal }),
  ]
  controller.abort(reason)
  for (const call of aborted) await assert.rejects(call, (e) => e === reason)
  assert.equal(await codeOf(a.publish('t', 1, { timeout: 50 })), 'ERR_TIMEOUT')
  assert.equal(await codeOf(a.services({ timeout: 50 })), 'ERR_TIMEOUT')
  assert.equal(await codeOf(a.provide('late', { f: () => 1 }, { timeout: 50 })), 'ERR_TIMEOUT')
  server.child.kill('SIGCONT')
  stopped = false
  // Its PROVIDE reaches the server now, and is then withdrawn.
  await b.waitForService('late', { timeout: 10_000 })
  const deadline = Date.now() + 10_000
  while ((await b.services()).some((s) => s.name === 'late' && s.providers > 0)) {
    assert.ok(Date.now() < deadline, 'the provider that timed out was withdrawn')
    await b.server()
  }
})

test('messaging: service<Api>() is a typed proxy over call(), and not thenable', async (t) => {
  interface MathApi {
    add(a: number, b: number): number
    greet(name: string): Promise<string>
  }
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide<MathApi>('math', {
    add: (x, y) => x + y,
    greet: async (name) => `hello ${name}`,
  })
  const math = b.service<MathApi>('math')
  const sum: number = await math.add(1, 2)
  const greeting: string = await math.greet('you')
  assert.equal(sum, 3)
  assert.equal(greeting, 'hello you')
  assert.equal(math.add, math.add, 'methods are stable')
  assert.equal((math as unknown as { then?: unknown }).then, undefined)
  assert.equal(await Promise.resolve(math), math, 'awaiting the proxy yields the proxy')
  // @ts-expect-error: not a method of MathApi
  assert.equal(await codeOf(math.sub(1, 2)), 'ERR_INVALID_ARGUMENT')
  // @ts-expect-error: wrong argument type
  assert.equal(await math.add('1', 2), '12')
  // A class instance works too: its methods come from the prototype and run with `this` bound.
  class Counter {
    total = 0
    add(by: number): number {
      return (this.total += by)
    }
  }
  await a.provide<Counter>('counter', new Counter())
  const counter = b.service<Counter>('counter')
  assert.equal(await counter.add(2), 2)
  assert.equal(await counter.add(3), 5)
  // @ts-expect-error: fields are not methods
  void counter.total
  const withTimeout = b.service<{ never(): void }>('nobody', { timeout: 10 })
  assert.equal(await codeOf(withTimeout.never()), 'ERR_NO_PROVIDER')
})

test('messaging: services() lists providers; waitForService waits for enough of them', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 3)
  const [a, b, c] = group.clients
  assert.deepEqual(await b.services(), [])

  const two = b.waitForService('math', { providers: 2, timeout: 60_000 })
  const one = b.waitForService('math')
  const first = await a.provide('math', { add: (x: number, y: number) => x + y })
  await one
  assert.equal(await codeOf(b.waitForService('math', { providers: 2, timeout: 100 })), 'ERR_TIMEOUT')
  const reason = new Error('stop waiting')
  await assert.rejects(
    b.waitForService('math', { providers: 3, signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  )

  await c.provide('math', { add: (x: number, y: number) => x + y, mul: (x: number, y: number) => x * y })
  await c.provide('alpha', { f: () => 1 })
  await two
  assert.deepEqual(await b.services(), [
    { name: 'alpha', providers: 1, methods: ['f'] },
    { name: 'math', providers: 2, methods: ['add', 'mul'] },
  ])
  // Already there: resolves at once.
  await b.waitForService('math', { providers: 2, timeout: 60_000 })
  await first.close()
  assert.deepEqual(await b.services(), [
    { name: 'alpha', providers: 1, methods: ['f'] },
    { name: 'math', providers: 1, methods: ['add', 'mul'] },
  ])
})

test('messaging: a waitForService timeout names the service and carries the caller’s stack', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using client = await connect(server.address)
  const waits: [Promise<void>, string][] = [
    [client.waitForService('math', { timeout: 1 }), "waitForService('math')"],
    [client.waitForService('math', { providers: 2, timeout: 1 }), "waitForService('math', { providers: 2 })"],
  ]
  for (const [wait, what] of waits) {
    const error = await wait.then(
      () => assert.fail(`${what} resolved`),
      (e: unknown) => e,
    )
    assert.ok(error instanceof TimeoutError, what)
    assert.equal(error.message, `${what} timed out after 1 ms`)
    assert.match(error.stack ?? '', /messaging-services\.spec\.ts/, 'the frame that called it')
  }
})

test('messaging: calls beyond every provider’s concurrency queue at the server, up to maxQueuedCalls', async (t) => {
  const server = await serverFor(t, 'ipc', { maxQueuedCalls: 5 })
  await providerProcess(t, server.address, 'gated', 'p1', 1)
  await using client = await connect(server.address)
  // One runs, five wait at the server, the seventh is refused.
  const calls = Array.from({ length: 7 }, (_, i) => client.call('gated', 'gated', [i]))
  assert.equal(await codeOf(calls[6]!), 'ERR_OVERFLOW')
  await assert.rejects(client.call('gated', 'gated', [7]), /maxQueuedCalls/)
  await client.state.whenEqual('active/p1', 1, { timeout: 60_000 })
  await client.state.set('gate', true)
  assert.deepEqual(await Promise.all(calls.slice(0, 6)), [0, 1, 2, 3, 4, 5])
  assert.deepEqual(await client.call('gated', 'stats'), { maxActive: 1, label: 'p1' })
})

test('messaging: a provider runs at most `concurrency` calls at once', async (t) => {
  const server = await serverFor(t, 'ipc')
  await providerProcess(t, server.address, 'gated', 'p1', 2)
  await using client = await connect(server.address)
  const calls = Array.from({ length: 10 }, (_, i) => client.call('gated', 'gated', [i]))
  await client.state.whenEqual('active/p1', 2, { timeout: 60_000 })
  await client.state.set('gate', true)
  assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.deepEqual(await client.call('gated', 'stats'), { maxActive: 2, label: 'p1' })
})

test('messaging: handle.close() withdraws the provider at once; calls in flight still finish', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  const started = deferred<void>()
  const release = deferred<string>()
  const handle = await a.provide('work', {
    job: () => {
      started.resolve()
      return release.promise
    },
  })
  assert.equal(handle.name, 'work')
  assert.deepEqual(handle.methods, ['job'])
  const inFlight = b.call('work', 'job')
  await started.promise
  let closed = false
  const closing = handle.close().then(() => (closed = true))
  // WITHDRAW travels on a's channel; a's next request is answered after it.
  while ((await b.services()).length > 0) await a.server()
  assert.equal(await codeOf(b.call('work', 'job')), 'ERR_NO_PROVIDER')
  assert.equal(closed, false, 'close() waits for the call in flight')
  release.resolve('done')
  assert.equal(await inFlight, 'done')
  await closing
  await handle.close() // idempotent
})

test('messaging: closing a client fails its pending calls and waits with ERR_CLOSED and ends subscriptions', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  await a.provide('slow', { hold: () => new Promise(() => {}) })
  const pending = b.call('slow', 'hold')
  const waiting = b.waitForService('never')
  const subscription = b.subscribe('t/')
  await subscription.ready
  const iterating = (async () => {
    const seen = []
    for await (const message of subscription) seen.push(message)
    return seen
  })()
  await b.close()
  assert.equal(await codeOf(pending), 'ERR_CLOSED')
  assert.equal(await codeOf(waiting), 'ERR_CLOSED')
  assert.deepEqual(await iterating, [])
  assert.equal(await codeOf(b.call('slow', 'hold')), 'ERR_CLOSED')
  assert.equal(await codeOf(b.subscribe('t/').ready), 'ERR_CLOSED')
  assert.equal(await codeOf(b.provide('x', { f: () => 1 })), 'ERR_CLOSED')
})

test('messaging: a message, call arguments and a result are sent as they were when given', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using pair = await clients(server.address, 2)
  const [caller, provider] = pair.clients
  const given = () => ({ n: 1, list: ['a'] })
  const change = (value: { n: number; list: string[] }) => {
    value.n = 2
    value.list.push('b')
  }
  const handle = await provider.provide('store', {
    // The result changes once returned, before the reply has gone.
    result() {
      const value = given()
      queueMicrotask(() => change(value))
      return value
    },
    echo: (value: unknown) => value,
  })
  t.after(() => handle.close())
  assert.deepEqual(await caller.call('store', 'result'), given())
  const args = given()
  const echoed = caller.call('store', 'echo', [args])
  change(args)
  assert.deepEqual(await echoed, given())
  await using subscription = caller.subscribe<{ n: number; list: string[] }>('news/')
  await subscription.ready
  const message = given()
  const published = provider.publish('news/1', message)
  change(message)
  await published
  const { value } = await subscription.next()
  assert.deepEqual(value?.message, given())
})

test('messaging: a service proxy calls nothing when awaited, stringified, converted or logged', async (t) => {
  const server = await serverFor(t, 'ipc')
  await using group = await clients(server.address, 2)
  const [a, b] = group.clients
  const called: string[] = []
  await a.provide('math', { add: (x: number, y: number) => (called.push('add'), x + y) })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): number => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const math = b.service<{ add(x: number, y: number): number }>('math')
  assert.equal(await (math as unknown as Promise<unknown>), math, 'not thenable')
  assert.equal(`${String(math)} ${math as unknown as string}`, '[zstate service math] [zstate service math]')
  assert.equal(JSON.stringify({ math }), '{"math":{}}')
  assert.match(inspect(math), /\{\}|\[zstate service math\]/)
  // A call after the others: had they sent requests, their rejections would have come before its answer.
  assert.equal(await math.add(1, 2), 3)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(called, ['add'])
  assert.deepEqual(unhandled, [])
})
