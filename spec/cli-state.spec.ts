import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../lib/index.ts'
import { CliProcess, assertBuilt, cliEnv, killAll, serve, tempDir, zstate } from './fixtures/cli-run.ts'

const scratch = tempDir()
const transports = {
  ipc: `ipc://${join(scratch.dir, 'state.sock')}`,
  tcp: 'tcp://127.0.0.1:*',
}

before(assertBuilt)
after(async () => {
  await killAll()
  scratch.cleanup()
})

for (const [transport, bind] of Object.entries(transports)) {
  void describe(`cli over ${transport}`, () => {
    let address = ''
    let env: NodeJS.ProcessEnv = {}
    // Runs zstate against this transport's server and expects exit 0.
    const ok = async (...args: string[]): Promise<string> => {
      const result = await zstate(args, { env })
      assert.equal(result.code, 0, `zstate ${args.join(' ')}: ${result.stderr}`)
      return result.stdout
    }

    before(async () => {
      address = (await serve(['--address', bind])).address
      env = cliEnv({ ZSTATE_ADDRESS: address })
    })

    void test(`cli: set prints the revision, get prints one line of JSON (${transport})`, async () => {
      const revision = Number(await ok('set', 'greeting', '{"text":"hello","n":[1,2.5,-3],"ok":true}'))
      assert.ok(Number.isSafeInteger(revision) && revision >= 1)
      assert.equal(await ok('get', 'greeting'), '{"text":"hello","n":[1,2.5,-3],"ok":true}\n')
      assert.equal(Number(await ok('set', 'greeting', '"bye"')), revision + 1)
      assert.equal(await ok('get', 'greeting'), '"bye"\n')
      assert.equal(await ok('set', 'negative', '-1'), `${revision + 2}\n`)
      assert.equal(await ok('get', 'negative'), '-1\n')
    })

    void test(`cli: set --ttl stores a key that goes unless written again in time (${transport})`, async () => {
      const watcher = await connect(address)
      try {
        const revision = Number(await ok('set', 'alive', 'true', '--ttl', '200'))
        await watcher.state.whenAvailable('alive')
        const gone = await watcher.state
          .whenDeleted('alive', { timeout: 5_000 })
          .then(() => watcher.state.revision)
        assert.ok(gone > revision, 'deleted by a later revision')
        const usage = await zstate(['set', 'alive', 'true', '--ttl', '0'], { env })
        assert.equal(usage.code, 2, usage.stderr)
        assert.match(usage.stderr, /--ttl expects an integer ≥ 1/)
      } finally {
        await watcher.close()
      }
    })

    void test(`cli: get of an absent key prints nothing and exits 1 (${transport})`, async () => {
      const result = await zstate(['get', 'absent'], { env })
      assert.deepEqual([result.code, result.stdout, result.stderr], [1, '', ''])
    })

    void test(`cli: --address takes precedence over ZSTATE_ADDRESS (${transport})`, async () => {
      await ok('set', 'where', '"here"')
      const wrong = cliEnv({ ZSTATE_ADDRESS: `ipc://${join(scratch.dir, 'nobody.sock')}` })
      const result = await zstate(['get', 'where', '--address', address], { env: wrong })
      assert.deepEqual([result.code, result.stdout], [0, '"here"\n'])
    })

    void test(`cli: del prints true, then false (${transport})`, async () => {
      await ok('set', 'doomed', '1')
      assert.equal(await ok('del', 'doomed'), 'true\n')
      assert.equal(await ok('del', 'doomed'), 'false\n')
    })

    void test(`cli: keys lists keys sorted, optionally under a prefix (${transport})`, async () => {
      for (const key of ['k:b', 'k:a', 'k:c:1', 'other']) await ok('set', key, 'null')
      const all = (await ok('keys')).split('\n').filter(Boolean)
      assert.deepEqual(all, [...all].sort())
      assert.ok(['k:a', 'k:b', 'k:c:1', 'other'].every((k) => all.includes(k)))
      assert.equal(await ok('keys', 'k:'), 'k:a\nk:b\nk:c:1\n')
      assert.equal(await ok('keys', 'nothing-here:'), '')
    })

    void test(`cli: keys lists a key with a control character or a leading quote as a JSON string, one line each (${transport})`, async () => {
      const writer = await connect(address)
      try {
        const odd = ['ctl:two\nlines', 'ctl:\u001b[2Jclear', 'ctl:\u009bcsi', '"ctl:quoted"']
        for (const key of odd) await writer.state.set(key, 1)
        await writer.state.set('ctl:plain é', 1)
        const listed = await ok('keys', 'ctl:')
        assert.equal(
          listed,
          '"ctl:\\u001b[2Jclear"\nctl:plain é\n"ctl:two\\nlines"\n"ctl:\\u009bcsi"\n',
          'sorted by the keys themselves',
        )
        assert.doesNotMatch(
          listed,
          // eslint-disable-next-line no-control-regex -- control characters are what it looks for
          /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/,
          'no control character reaches the terminal',
        )
        const quoted = (await ok('keys', '"')).trimEnd()
        assert.equal(JSON.parse(quoted), '"ctl:quoted"')
      } finally {
        await writer.close()
      }
    })

    void test(`cli: keys takes a prefix, not a pattern, and says so on stderr when it looks like one (${transport})`, async () => {
      for (const key of ['glob:a', 'glob:b', '*star']) await ok('set', key, '1')
      const star = await zstate(['keys', '*'], { env })
      assert.deepEqual([star.code, star.stdout], [0, '*star\n'])
      assert.equal(
        star.stderr,
        'zstate: keys: the argument is a key prefix, not a pattern ("*" matches only keys that start with "*"); ' +
          'to list every key: zstate keys\n',
      )
      const under = await zstate(['keys', 'glob:*'], { env })
      assert.deepEqual([under.code, under.stdout], [0, ''])
      assert.match(under.stderr, /; to list the keys that start with "glob:": zstate keys glob:\n$/)
      const plain = await zstate(['keys', 'glob:'], { env })
      assert.deepEqual([plain.stdout, plain.stderr], ['glob:a\nglob:b\n', ''])
      const watcher = new CliProcess(['watch', 'glob:?'], env)
      try {
        await watcher.waitFor('stderr', (text) => text.includes('to watch the keys that start with "glob:"'))
      } finally {
        await watcher.kill()
      }
    })

    void test(`cli: info prints the server's version, protocol, pid, epoch, revision and clients (${transport})`, async () => {
      const revision = Number(await ok('set', 'info-mark', '1'))
      const info = JSON.parse(await ok('info')) as Record<string, unknown>
      for (const field of ['version', 'protocol', 'pid', 'epoch', 'revision', 'clients']) {
        assert.ok(field in info, field)
      }
      assert.equal(typeof info['version'], 'string')
      assert.equal(typeof info['epoch'], 'string')
      assert.ok((info['revision'] as number) >= revision)
      assert.ok((info['clients'] as number) >= 1)
    })

    void test(`cli: JSON forms round trip as real bigints, Dates and Uint8Arrays (${transport})`, async () => {
      const json = JSON.stringify({
        big: { $bigint: '-9223372036854775808' },
        when: { $date: '2024-01-31T12:34:56.789Z' },
        bytes: { $base64: 'AAH+/w==' },
        nested: [{ $bigint: '7' }, { deep: { $date: '1970-01-01T00:00:00.000Z' } }],
        twoKeys: { $bigint: '1', note: 'stays an object' },
      })
      await ok('set', 'forms', json)
      assert.equal(await ok('get', 'forms'), `${json}\n`)
      const client = await connect(address, { timeout: 10_000 })
      try {
        await client.state.sync()
        assert.deepEqual(client.state.get('forms'), {
          big: -(2n ** 63n),
          when: new Date('2024-01-31T12:34:56.789Z'),
          bytes: new Uint8Array([0, 1, 254, 255]),
          nested: [7n, { deep: new Date(0) }],
          twoKeys: { $bigint: '1', note: 'stays an object' },
        })
        await client.state.set('from-library', [2n ** 40n, new Date(86_400_000), Buffer.from('hi')])
      } finally {
        await client.close()
      }
      assert.equal(
        await ok('get', 'from-library'),
        '[{"$bigint":"1099511627776"},{"$date":"1970-01-02T00:00:00.000Z"},{"$base64":"aGk="}]\n',
      )
    })

    void test(`cli: watch prints one JSON line per change under its prefix (${transport})`, async () => {
      const watcher = new CliProcess(['watch', 'w:'], env)
      try {
        await watcher.waitFor('stderr', (text) => text.includes('watching'))
        const first = Number(await ok('set', 'w:one', '{"n":{"$bigint":"1"}}'))
        await ok('set', 'outside', '1')
        await ok('del', 'w:one')
        await ok('set', 'w:done', 'true')
        await watcher.waitFor('stdout', (text) => text.includes('"w:done"'))
        assert.deepEqual(
          watcher.lines('stdout').map((line) => JSON.parse(line) as unknown),
          [
            { revision: first, key: 'w:one', value: { n: { $bigint: '1' } }, deleted: false },
            { revision: first + 2, key: 'w:one', value: null, deleted: true },
            { revision: first + 3, key: 'w:done', value: true, deleted: false },
          ],
        )
        assert.deepEqual(await watcher.signal('SIGINT'), { code: 0, signal: null })
      } finally {
        await watcher.kill()
      }
    })

    void test(`cli: watch --from-revision replays changes from the server's history (${transport})`, async () => {
      const first = Number(await ok('set', 'replay:a', '1'))
      await ok('set', 'replay:b', '2')
      const watcher = new CliProcess(['watch', 'replay:', '--from-revision', String(first)], env)
      try {
        await watcher.waitFor('stdout', (text) => text.includes('"replay:b"'))
        assert.deepEqual(
          watcher.lines('stdout').map((line) => JSON.parse(line) as unknown),
          [
            { revision: first, key: 'replay:a', value: 1, deleted: false },
            { revision: first + 1, key: 'replay:b', value: 2, deleted: false },
          ],
        )
        assert.deepEqual(await watcher.signal('SIGTERM'), { code: 0, signal: null })
      } finally {
        await watcher.kill()
      }
    })

    void test(`cli: watch without a prefix sees every key and exits 0 on SIGTERM (${transport})`, async () => {
      const watcher = new CliProcess(['watch', '--address', address])
      try {
        await watcher.waitFor('stderr', (text) => text.includes('watching'))
        await ok('set', 'any:1', '"a"')
        await ok('set', 'sentinel', '"z"')
        await watcher.waitFor('stdout', (text) => text.includes('"sentinel"'))
        assert.deepEqual(
          watcher.lines('stdout').map((line) => (JSON.parse(line) as { key: string }).key),
          ['any:1', 'sentinel'],
        )
        assert.deepEqual(await watcher.signal('SIGTERM'), { code: 0, signal: null })
      } finally {
        await watcher.kill()
      }
    })
  })
}
