// Two copies of zstate in one process (a duplicate install, or a worker thread of a child, where the
// target's `import 'zstate'` and zstate's own runtime may differ): `instanceof` knows the other copy's
// errors, each class by its name, and nothing else.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConflictError, ErrorCode, RemoteError, TimeoutError, ZStateError } from '../lib/errors.ts'

type Errors = typeof import('../lib/errors.ts')

test('errors: instanceof knows the errors of another copy of zstate, class by class', async () => {
  const other = (await import(new URL('../lib/errors.ts?another-copy', import.meta.url).href)) as Errors
  assert.notEqual(other.ZStateError, ZStateError, 'a second module instance')

  const conflict = new other.ConflictError('lost', ['k'], 3)
  assert.ok(conflict instanceof ZStateError)
  assert.ok(conflict instanceof ConflictError)
  assert.ok(!(conflict instanceof TimeoutError))
  assert.ok(!(conflict instanceof RemoteError))

  const timeout = new TimeoutError('late')
  assert.ok(timeout instanceof other.ZStateError)
  assert.ok(timeout instanceof other.TimeoutError)
  assert.ok(!(timeout instanceof other.ConflictError))

  const plain = new other.ZStateError(ErrorCode.CLOSED, 'closed')
  assert.ok(plain instanceof ZStateError)
  assert.ok(!(plain instanceof ConflictError), 'a base class error is no subclass')
})

test('errors: instanceof refuses look-alikes and keeps a user subclass to its own prototype chain', () => {
  const lookAlike = Object.assign(new Error('lost'), { name: 'ConflictError', code: ErrorCode.CONFLICT })
  assert.ok(!(lookAlike instanceof ZStateError), 'no brand: not a zstate error')
  assert.ok(!(lookAlike instanceof ConflictError))

  class AppError extends ZStateError {}
  assert.ok(new AppError(ErrorCode.INVALID_ARGUMENT, 'mine') instanceof ZStateError)
  assert.ok(new AppError(ErrorCode.INVALID_ARGUMENT, 'mine') instanceof AppError)
  assert.ok(!(new ZStateError(ErrorCode.INVALID_ARGUMENT, 'theirs') instanceof AppError))
  assert.ok(!(new ConflictError('lost', []) instanceof AppError))
})
