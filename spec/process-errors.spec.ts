import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  isZStateError,
  ProcessExitError,
  RemoteError,
  type Context,
  type WorkerContext,
} from '../lib/index.ts'
import { builtContext, contextFor, failure, fixtureUrl } from './process-support.ts'

void test('process: a thrown error arrives as a RemoteError with the remote stack, name, code, pid and causes', async (t) => {
  const ctx = await contextFor(t)
  const child = ctx.spawn(fixtureUrl('worker-throw.mjs'), { args: ['it broke'] })
  const error = await failure(child.wait())
  assert.ok(error instanceof RemoteError)
  assert.ok(isZStateError(error))
  assert.equal(error.code, 'ERR_REMOTE')
  assert.equal(error.name, 'RemoteError')
  assert.equal(error.message, 'it broke')
  assert.equal(error.remoteName, 'Error')
  assert.equal(error.remoteCode, 'E_FIXTURE')
  assert.equal(error.pid, child.pid)
  // The remote stack (the fixture's frame), then the local one.
  assert.match(error.stack!, /^Error: it broke\n\s+at thrower \(.*worker-throw\.mjs/)
  assert.match(error.stack!, /\(remote boundary\)\nRemoteError: it broke\n/)
  assert.ok(error.stack!.indexOf('worker-throw.mjs') < error.stack!.indexOf('process-errors.spec.ts'))
  const cause = error.cause as RemoteError
  assert.ok(cause instanceof RemoteError)
  assert.equal(cause.remoteName, 'RangeError')
  assert.equal(cause.message, 'root cause')
  const root = cause.cause as RemoteError
  assert.ok(root instanceof RemoteError)
  assert.equal(root.remoteName, 'NonError')
  assert.equal(root.value, 'a plain string')
  assert.equal(child.status, 'failed')
  assert.equal(child.exitCode, 1)
})

// ZProc's retry_for=(SyntaxError,) ports as retryOn by remoteName: a grandchild's error that the child
// lets through must keep the name it had where it was thrown (it arrived as 'RemoteError', ERR_REMOTE).
void test('process: a grandchild’s error that the child passes on keeps its name, code and pid, with both stacks', async (t) => {
  const ctx = await contextFor(t)
  const child = ctx.spawn(
    async (c: WorkerContext) => {
      const grandchild = c.spawn(async (g: WorkerContext) => {
        await g.state.set('grandchild', process.pid)
        throw Object.assign(new SyntaxError('deep down'), { code: 'E_DEEP' })
      })
      await grandchild.wait()
    },
    { retries: 2, retryOn: (error) => (error as RemoteError).remoteName === 'SyntaxError' },
  )
  const error = await failure(child.wait())
  assert.ok(error instanceof RemoteError)
  assert.equal(error.remoteName, 'SyntaxError')
  assert.equal(error.remoteCode, 'E_DEEP')
  assert.equal(error.message, 'deep down')
  assert.equal(error.pid, ctx.state.get('grandchild'), 'where it was thrown')
  assert.equal(child.attempts, 3, 'retryOn matched it by its name')
  // The grandchild's frames, the child's, then this process's: two boundaries.
  assert.match(error.stack!, /^SyntaxError: deep down\n/)
  assert.equal(error.stack!.split('(remote boundary)').length, 3, error.stack)
})

void test('process: a thrown non-Error arrives as a RemoteError named NonError holding the value', async (t) => {
  const ctx = await contextFor(t)
  const plain = await failure(
    ctx
      .spawn(() => {
        throw { reason: 'plain object', n: 1 }
      })
      .wait(),
  )
  assert.ok(plain instanceof RemoteError)
  assert.equal(plain.remoteName, 'NonError')
  assert.deepEqual(plain.value, { reason: 'plain object', n: 1 })
  assert.match(plain.message, /plain object/)
  const fn = await failure(
    ctx
      .spawn(() => {
        throw () => 1 // not cloneable: its inspection travels instead
      })
      .wait(),
  )
  assert.equal(fn.remoteName, 'NonError')
  assert.equal(typeof fn.value, 'string')
})

void test('process: a child that dies without reporting is a ProcessExitError with code, signal and stderr', async (t) => {
  const ctx = await contextFor(t)
  const exited = ctx.spawn(fixtureUrl('worker-exit.mjs'), { args: [3], name: 'quitter' })
  const error = await failure(exited.wait())
  assert.ok(error instanceof ProcessExitError)
  assert.equal(error.code, 'ERR_PROCESS_EXIT')
  assert.equal(error.exitCode, 3)
  assert.equal(error.signal, null)
  assert.match(
    error.message,
    /^quitter \(pid \d+\) exited with code 3 before reporting a result: last words$/,
  )
  // The last lines of stderr, not all of them.
  assert.match(error.stderr, /line 30\nlast words$/)
  assert.doesNotMatch(error.stderr, /^line 1$/m)
  assert.equal(exited.exitCode, 3)

  const killed = ctx.spawn(async (c: WorkerContext) => {
    await c.state.sync()
    process.kill(process.pid, 'SIGKILL')
  })
  const signalled = await failure(killed.wait())
  assert.ok(signalled instanceof ProcessExitError)
  assert.equal(signalled.signal, 'SIGKILL')
  assert.equal(signalled.exitCode, null)
})

void test('process: a child that an uncaught error ends names that error, not the version line Node ends with', async (t) => {
  const ctx = await contextFor(t)
  for (const thread of [false, true]) {
    const uncaught = ctx.spawn(
      async () => {
        setTimeout(() => {
          const error = new TypeError('the real cause') as TypeError & { code: string }
          error.code = 'E_CAUSE' // Node prints it after the stack
          throw error
        }, 1)
        await new Promise(() => {})
      },
      { thread },
    )
    const rejected = ctx.spawn(
      async () => {
        void Promise.reject(new RangeError('rejected and unhandled'))
        await new Promise(() => {})
      },
      { thread },
    )
    const [first, second] = await Promise.all([failure(uncaught.wait()), failure(rejected.wait())])
    assert.ok(first instanceof ProcessExitError && second instanceof ProcessExitError)
    assert.match(first.message, /before reporting a result: TypeError: the real cause$/)
    assert.match(second.message, /before reporting a result: RangeError: rejected and unhandled$/)
    assert.match(first.stderr, /Node\.js v\d+/, 'stderr keeps all of what Node wrote')
    // A thread's stack is printed as a process's is, on the parent's stderr too.
    assert.match(first.stderr, /TypeError: the real cause\n\s+at /, `thread: ${thread}`)
  }
})

void test('process: once built, an error thrown inside zstate’s child code shows one short line of it, not the bundle', async (t) => {
  const ctx = await builtContext(t, { name: 'built crash' })
  // An unawaited write of a value that cannot be stored rejects inside the child's bundle, and Node
  // prints the source line it was thrown on before the stack.
  const crashed = ctx.spawn(
    (c: WorkerContext) => {
      void c.state.set('k', Symbol('not storable'))
      return new Promise(() => {})
    },
    { execArgv: [] },
  )
  const error = await failure(crashed.wait())
  assert.ok(error instanceof ProcessExitError)
  assert.match(error.message, /value cannot be stored: symbol$/)
  assert.match(error.stderr, /child-main\.cjs:\d+\n/, 'Node shows where in the bundle')
  const longest = Math.max(...error.stderr.split('\n').map((line) => line.length))
  assert.ok(longest <= 400, `the longest line of stderr is ${longest} characters`)
})

void test('process: a function that uses an outer variable fails with a RemoteError naming it', async (t) => {
  const ctx = await contextFor(t)
  const secret = 42
  const error = await failure(ctx.spawn(() => secret + 1).wait())
  assert.ok(error instanceof RemoteError)
  assert.equal(error.remoteName, 'ReferenceError')
  assert.match(error.message, /secret is not defined/)
})

void test('process: methods, bound, native functions and classes are refused at once with ERR_INVALID_ARGUMENT', async (t) => {
  const ctx: Context = await contextFor(t)
  const holder = {
    method(this: void): number {
      return 1
    },
    async asyncMethod(this: void): Promise<number> {
      return 1
    },
  }
  const refused = [
    holder.method,
    holder.asyncMethod,
    function bound() {}.bind(null),
    Math.max,
    class Worker {},
  ]
  for (const target of refused) {
    assert.throws(
      () => ctx.spawn(target as () => unknown),
      (error: unknown) => isZStateError(error) && error.code === 'ERR_INVALID_ARGUMENT',
      String(target),
    )
  }
  assert.throws(
    () => ctx.spawn(42 as unknown as string),
    /target must be a module URL or path, or a function/,
  )
  assert.throws(() => ctx.spawn(() => 1, { retries: -1 }), /retries must be an integer ≥ 0, got -1/)
  assert.throws(() => ctx.spawn(() => 1, { env: { A: 1 as unknown as string } }), /env\.A must be a string/)
  assert.throws(
    () => ctx.spawn((_ctx, _fn: unknown) => 1, { args: [() => 1] }),
    (error: unknown) => isZStateError(error) && error.code === 'ERR_UNENCODABLE',
  )
  await assert.rejects(
    ctx.map(() => 1, 42 as unknown as number[]),
    /items must be an iterable or an async iterable/,
  )
})

void test('process: a SharedArrayBuffer is refused at spawn and in map for a process child, shared with a thread', async (t) => {
  const ctx = await contextFor(t)
  const unencodable = (error: unknown): boolean => isZStateError(error) && error.code === 'ERR_UNENCODABLE'
  const shared = new SharedArrayBuffer(4)
  // A process's IPC channel copies what it sends (v8.serialize), and cannot copy shared memory.
  const size = (_: unknown, memory: SharedArrayBuffer): number => memory.byteLength
  assert.throws(() => ctx.spawn(size, { args: [shared] }), unencodable)
  assert.throws(() => ctx.spawn(size, { args: [shared], retries: 2 }), unencodable)
  const mapped = await failure(ctx.map(() => 1, [1, shared], { concurrency: 1 }))
  assert.ok(unencodable(mapped))
  assert.match(mapped.message, /\(item 1\)/)
  // A thread gets the same memory.
  const child = ctx.spawn(
    (_: unknown, memory: SharedArrayBuffer) => {
      new Int32Array(memory)[0] = 42
    },
    { args: [shared], thread: true },
  )
  await child.wait()
  assert.equal(new Int32Array(shared)[0], 42)
})

void test('process: a module without a default export, or one that cannot load, fails with a RemoteError', async (t) => {
  const ctx = await contextFor(t)
  const noDefault = await failure(ctx.spawn(fixtureUrl('worker-no-default.mjs')).wait())
  assert.ok(noDefault instanceof RemoteError)
  assert.equal(noDefault.remoteName, 'TypeError')
  assert.match(noDefault.message, /has no default export function/)
  const missing = await failure(ctx.spawn(fixtureUrl('no-such-module.mjs')).wait())
  assert.ok(missing instanceof RemoteError)
  assert.equal(missing.remoteCode, 'ERR_MODULE_NOT_FOUND')
})

void test('process: a result that cannot be cloned fails with a RemoteError saying so', async (t) => {
  const ctx = await contextFor(t)
  const error = await failure(ctx.spawn(() => ({ fn: () => 1 })).wait())
  assert.ok(error instanceof RemoteError)
  assert.equal(error.remoteCode, 'ERR_UNENCODABLE')
  assert.match(error.message, /the result cannot be sent to the parent/)
})

void test('process: an error whose getters throw still arrives as a RemoteError, never as a crash of the child', async (t) => {
  const ctx = await contextFor(t)
  // The getter of `property` throws, as a hostile error's may.
  const hostile = (_c: unknown, property: string): never => {
    const error = new Error('real failure')
    Object.defineProperty(error, property, {
      get() {
        throw new Error(`${property} getter`)
      },
    })
    throw error
  }
  for (const property of ['stack', 'message']) {
    const error = await failure(ctx.spawn(hostile, { args: [property] }).wait())
    assert.ok(error instanceof RemoteError, `${property}: got ${String(error)}`)
    if (property === 'stack') assert.equal(error.message, 'real failure')
  }
  const proxy = ctx.spawn(() => {
    throw new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap')
        },
      },
    )
  })
  const fromProxy = await failure(proxy.wait())
  assert.ok(fromProxy instanceof RemoteError, `got ${String(fromProxy)}`)
  assert.equal(fromProxy.remoteName, 'NonError')
})

void test('process: a thrown non-Error’s RemoteError shows the frames of the spawn() and map() calls', async (t) => {
  const ctx = await contextFor(t)
  const spawned = await failure(
    ctx
      .spawn(() => {
        throw 'not an Error'
      })
      .wait(),
  )
  assert.match(
    spawned.stack,
    /^NonError: a non-Error value was thrown: 'not an Error'\n\s+at \(remote boundary\)\n/,
  )
  assert.match(spawned.stack, /process-errors\.spec\.ts/)
  const mapped = await failure(
    ctx.map(() => {
      throw 'not an Error either'
    }, [1]),
  )
  assert.match(mapped.stack, /\(remote boundary\)/)
  assert.match(mapped.stack, /process-errors\.spec\.ts/)
})
