import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isZStateError } from '../lib/index.ts'
import { clientFor, clientProcess, serverFor } from './support.ts'

const accepted: [string, unknown, unknown?][] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['integer', 42],
  ['negative float', -1.5],
  ['large number', 2 ** 53 - 1],
  ['minus zero becomes 0', -0, 0],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['bigint', 12345678901234567890n - 10000000000000000000n],
  ['int64 min', -(2n ** 63n)],
  ['int64 max', 2n ** 63n - 1n],
  ['string', 'héllo ✓'],
  ['empty string', ''],
  ['U+FFFD and a surrogate pair', '\uFFFD 😀 \uD83D\uDE00'],
  ['Date', new Date('2026-01-02T03:04:05.678Z')],
  ['Uint8Array', new Uint8Array([0, 1, 255])],
  ['Buffer reads back as Uint8Array', Buffer.from('abc'), new Uint8Array([97, 98, 99])],
  ['array', [1, 'two', [3], { four: 4 }]],
  ['empty array', []],
  ['nested object', { a: { b: { c: [null, true, 1n, new Date(0)] } }, 'key with spaces': 1 }],
  ['null-prototype object', Object.assign(Object.create(null) as object, { x: 1 }), { x: 1 }],
  ['nested 100 deep', JSON.parse('['.repeat(100) + '{"x":1}' + ']'.repeat(100))],
  ['one object in two places (no cycle)', ((shared) => ({ a: shared, b: [[shared]] }))({ x: 1 })],
]

const refused: [string, unknown][] = [
  ['undefined', undefined],
  ['undefined nested', { a: undefined }],
  ['function', () => 1],
  ['symbol', Symbol('s')],
  ['Map', new Map([[1, 2]])],
  ['Set', new Set([1])],
  ['class instance', new (class Point {})()],
  ['cycle', ((o: Record<string, unknown>) => ((o.self = o), o))({})],
  // eslint-disable-next-line no-sparse-arrays
  ['sparse array', [1, , 3]],
  ['bigint over int64', 2n ** 63n],
  ['bigint under int64', -(2n ** 63n) - 1n],
  ['invalid Date', new Date(NaN)],
  ['__proto__ key', JSON.parse('{"__proto__": 1}')],
  ['lone high surrogate', 'a\uD800'],
  ['lone low surrogate nested', { list: ['\uDC00b'] }],
  ['key with a lone surrogate', { '\uD83D': 1 }],
  ['nested 513 deep', JSON.parse('['.repeat(513) + ']'.repeat(513))],
  ['Float64Array', new Float64Array(2)],
  ['RegExp', /x/],
  ['Error', new Error('x')],
]

test('values: every accepted type round-trips through another process, deeply frozen', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const other = await clientProcess(t, server.address)
  for (const [name, value, expected = value] of accepted) {
    const original = structuredClone(value)
    await client.state.set(name, value)
    const read = client.state.get(name)
    assert.deepEqual(read, expected, name)
    if (
      typeof value === 'object' &&
      value !== null &&
      !(value instanceof Date) &&
      !(value instanceof Uint8Array)
    ) {
      assert.ok(Object.isFrozen(read), `${name} is frozen`)
      assert.ok(!Object.isFrozen(value), `${name}: the caller's object is not frozen`)
      assert.notEqual(read, value, `${name} is a copy`)
    }
    if (value instanceof Uint8Array) assert.equal(Object.getPrototypeOf(read), Uint8Array.prototype, name)
    if (value instanceof Uint8Array)
      assert.equal(Buffer.compare(value, original as Uint8Array), 0, `${name} unchanged`)
    else if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== null)
      assert.deepEqual(value, original, `${name} unchanged`)
  }
  await other.call('sync')
  // What the other process reads (brought back by structured clone) is what we stored.
  for (const [name, value, expected = value] of accepted) {
    const seen = await other.call('get', name)
    assert.deepEqual(
      seen,
      expected instanceof Object && Object.getPrototypeOf(expected) === null ? { ...expected } : expected,
      name,
    )
  }
})

test('values: a write holds the value as it was at the call; what the caller changes later is not written', async (t) => {
  const server = await serverFor(t, 'ipc', { actions: new URL('./fixtures/actions.mjs', import.meta.url) })
  const client = await clientFor(server)
  const other = await clientProcess(t, server.address)
  const { state } = client
  const value = () => ({ n: 1, list: ['a'], bytes: new Uint8Array([1]), when: new Date(0) })
  const change = (v: ReturnType<typeof value>) => {
    v.n = 2
    v.list.push('b')
    v.bytes[0] = 9
    v.when.setTime(1)
  }
  const given = { set: value(), update: value(), next: value(), arg: value() }
  const writes = [
    state.set('set', given.set),
    state.update({ update: given.update }),
    state.compareAndSet('cas', undefined, given.next),
    state.run('put', 'run', given.arg),
  ]
  for (const v of Object.values(given)) change(v)
  await Promise.all(writes)
  await other.call('sync')
  for (const key of ['set', 'update', 'cas', 'run']) {
    assert.deepEqual(state.get(key), value(), key)
    assert.deepEqual(await other.call('get', key), value(), `${key}, in another process`)
  }
})

test('values: refused values fail with ERR_UNENCODABLE and write nothing', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  for (const [name, value] of refused) {
    await assert.rejects(
      state.set('k', value),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE',
      name,
    )
    await assert.rejects(
      state.update({ ok: 1, k: value }),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE',
      name,
    )
  }
  // A getter read again as the value is encoded, returning what MessagePack has no form for: the
  // same typed refusal (it was msgpackr's own RangeError or Error).
  for (const second of [2n ** 70n, Symbol('s')]) {
    let reads = 0
    const value = {
      get g() {
        return ++reads === 1 ? 1 : second
      },
    }
    await assert.rejects(state.set('k', value), { code: 'ERR_UNENCODABLE' }, String(second))
  }
  assert.equal(await state.sync(), 0, 'nothing was committed')
  assert.equal(state.size, 0)
})

test('values: a refusal names where in the value the culprit is', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  const cyclic: Record<string, unknown> = { list: [] }
  ;(cyclic['list'] as unknown[]).push({ back: cyclic })
  // eslint-disable-next-line no-sparse-arrays
  const holed = [1, , 3]
  // 40 objects down, the last one points back at the first.
  const deepCycle: Record<string, unknown> = {}
  let tail = deepCycle
  for (let i = 0; i < 39; i++) tail = tail['n'] = {}
  tail['n'] = deepCycle
  const deepList = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels))
  const cases: [unknown, string][] = [
    [undefined, 'value cannot be stored: undefined'],
    [{ a: [1, { b: undefined }] }, 'value.a[1].b cannot be stored: undefined'],
    [{ a: { b: holed } }, 'value.a.b[1] cannot be stored: sparse array (hole)'],
    [cyclic, 'value.list[0].back cannot be stored: cyclic reference'],
    // A cycle that closes far down is told from deep nesting, and found where it closes.
    [{ a: deepCycle }, `value.a${'.n'.repeat(39)}.n cannot be stored: cyclic reference`],
    [
      { deep: deepList(513) },
      `value.deep${'[0]'.repeat(511)} cannot be stored: nested deeper than 512 levels`,
    ],
    [[[new Map()]], 'value[0][0] cannot be stored: an instance of Map'],
    [{ n: [2n ** 64n] }, 'value.n[0] cannot be stored: bigint outside int64'],
    // Reading it threw: a getter, or a Proxy's trap.
    [
      {
        a: {
          get b() {
            throw new Error('getter bomb')
          },
        },
      },
      'value.a.b cannot be stored: reading it threw: getter bomb',
    ],
    [
      [
        new Proxy(
          {},
          {
            getPrototypeOf: () => {
              throw new Error('trap bomb')
            },
          },
        ),
      ],
      'value[0] cannot be stored: reading it threw: trap bomb',
    ],
  ]
  for (const [value, message] of cases) {
    await assert.rejects(
      state.set('k', value),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE' && e.message === message,
      message,
    )
  }
  assert.equal(await state.sync(), 0, 'nothing was committed')
  // Changed in place in an atomic draft (a patch): the place is named from the top of the value too.
  await state.set('doc', { meta: { tags: ['a'] }, list: [1, 2] })
  const inPlace: [(doc: any) => void, string][] = [
    [(doc) => doc.meta.tags.push(undefined), 'value.meta.tags[1] cannot be stored: undefined'],
    [(doc) => (doc.meta.when = new Map()), 'value.meta.when cannot be stored: an instance of Map'],
    [(doc) => (doc.list[1] = { x: [undefined] }), 'value.list[1].x[0] cannot be stored: undefined'],
  ]
  for (const [change, message] of inPlace)
    await assert.rejects(
      state.atomic((d: any) => change(d.doc)),
      (e: unknown) => isZStateError(e) && e.code === 'ERR_UNENCODABLE' && e.message === message,
      message,
    )
  assert.equal(await state.sync(), 1, 'nothing more was committed')
})

test('values: keys are validated and wrong argument types are ERR_INVALID_ARGUMENT', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  const invalid = (e: unknown): boolean => isZStateError(e) && e.code === 'ERR_INVALID_ARGUMENT'
  for (const key of [
    '',
    '__proto__',
    'x'.repeat(1025),
    'é'.repeat(513),
    'a\uD800',
    '\uDC00',
    1,
    null,
    undefined,
    {},
  ]) {
    await assert.rejects(state.set(key as string, 1), invalid, String(key).slice(0, 20))
    assert.throws(() => state.get(key as string), invalid)
  }
  await state.set('x'.repeat(1024), 1)
  await state.set('\uFFFD 😀', 1)
  assert.equal(state.get('\uFFFD 😀'), 1, 'U+FFFD and surrogate pairs are well-formed')
  await state.set('n', 'text')
  await assert.rejects(state.increment('n'), invalid)
  await state.set('i', 1)
  await assert.rejects(state.increment('i', 1n), invalid)
  await assert.rejects(state.increment('i', '1' as unknown as number), invalid)
  await assert.rejects(state.update(null as unknown as Record<string, unknown>), invalid)
  // Not a plain object (nothing, or only some of it, would be written), or a symbol key: refused.
  class Point {
    x = 1
  }
  const revision = state.revision
  for (const values of [new Map([['a', 1]]), new Point(), [1], { [Symbol('s')]: 1, z: 1 }])
    await assert.rejects(state.update(values as unknown as Record<string, unknown>), invalid)
  assert.equal(state.revision, revision, 'nothing written')
  assert.equal(await state.increment('i', 2), 3)
  assert.equal(await state.increment('big', 5n), 5n)
  await state.set('max', 2n ** 63n - 1n)
  await assert.rejects(state.increment('max', 1n), invalid)
  // A bigint `by` outside int64 is refused as a value is, before anything is sent.
  const sent = client.metrics().messagesOut
  for (const by of [2n ** 63n, 2n ** 64n, -(2n ** 63n) - 1n])
    await assert.rejects(state.increment('big', by), { code: 'ERR_UNENCODABLE' })
  assert.equal(client.metrics().messagesOut, sent)
  // A whole-number counter that would leave the safe integers is refused, not rounded.
  await state.set('safe', Number.MAX_SAFE_INTEGER - 1)
  assert.equal(await state.increment('safe'), Number.MAX_SAFE_INTEGER)
  await assert.rejects(state.increment('safe'), invalid)
  assert.equal(state.get('safe'), Number.MAX_SAFE_INTEGER)
  await state.set('float', 0.5)
  assert.equal(await state.increment('float', 1e300), 1e300 + 0.5, 'other numbers add as doubles')
})

test('values: compareAndSet uses deep equality, undefined meaning absent', async (t) => {
  const server = await serverFor(t, 'ipc')
  const client = await clientFor(server)
  const { state } = client
  assert.equal(await state.compareAndSet('k', undefined, { v: [1, new Date(5)] }), true)
  assert.equal(await state.compareAndSet('k', undefined, 2), false)
  assert.equal(await state.compareAndSet('k', { v: [1, new Date(5)] }, { v: 2 }), true)
  assert.equal(await state.compareAndSet('k', { v: 2n }, 3), false, 'a bigint never equals a number')
  assert.equal(await state.compareAndSet('k', { v: 2 }, new Uint8Array([1])), true)
  assert.equal(await state.compareAndSet('k', new Uint8Array([1]), 'done'), true)
  assert.equal(state.get('k'), 'done')
  assert.equal(await state.delete('k'), true)
  assert.equal(await state.delete('k'), false)
  const revision = state.revision
  await state.clear()
  assert.equal(state.revision, revision, 'clearing an empty store commits nothing')
})
