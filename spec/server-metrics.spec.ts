import assert from 'node:assert/strict'
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, test, type TestContext } from 'node:test'
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format'
import { ConflictError, createContext, startServer, type Context, type Server } from '../lib/index.ts'
import { MAX_CONNECTIONS } from '../lib/server/metrics.ts'
import { CliProcess, assertBuilt, cliEnv, killAll } from './fixtures/cli-run.ts'
import { fixtureUrl, until } from './process-support.ts'
import { clientFor, serverFor, tempDir } from './support.ts'

after(killAll)

// Its clients from clientFor close before it when the test ends.
function metricsServer(t: TestContext, options: { dataDir?: string } = {}): Promise<Server> {
  return serverFor(t, 'ipc', { metrics: '127.0.0.1:0', ...options })
}

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const families = parsePrometheusTextFormat(await response.text())
  return new Map(families.map((family) => [family.name, family]))
}

// The value of the one sample of `name` whose labels include `labels`; undefined when none has them.
function value(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const sample = families
    .get(name)
    ?.metrics.find((row) => Object.entries(labels).every(([key, v]) => row.labels?.[key] === v))
  return sample === undefined ? undefined : Number(sample.value)
}

void test('metrics: /metrics counts the commits, conflicts, calls, topics and processes clients made', async (t) => {
  // The context is a client of the server too: its close is added before the server's, to run first.
  const contexts: Context[] = []
  t.after(() => Promise.all(contexts.map((ctx) => ctx.close())))
  const server = await metricsServer(t)
  assert.match(server.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const a = await clientFor(server, { name: 'metrics a' })
  const b = await clientFor(server, { name: 'metrics b' })

  const N = 7
  for (let i = 0; i < N; i++) await a.state.set(`k${i}`, i)
  // A transaction that read k0, which b then overwrites before it commits: one conflict, no retry.
  const conflict = a.state.atomic(
    async (d) => {
      const seen = d['k0'] as number
      await b.state.set('k0', 100)
      await a.state.whenEqual('k0', 100)
      d['k0'] = seen + 1
    },
    { retries: 0 },
  )
  await assert.rejects(conflict, ConflictError)

  const K = 5
  const provider = await b.provide('math', {
    add: (x: number, y: number) => x + y,
    fail: () => {
      throw new Error('refused')
    },
  })
  t.after(() => provider.close())
  for (let i = 0; i < K - 1; i++) assert.equal(await a.call('math', 'add', [i, 1]), i + 1)
  await assert.rejects(a.call('math', 'fail', []))

  const M = 3
  for (let i = 0; i < M; i++) await a.publish('news.metrics', { i })

  const ctx = await createContext({ address: server.address, name: 'metrics ctx' })
  contexts.push(ctx)
  const child = ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: ['waiter'], name: 'the waiter' })
  const pid = await ctx.state.whenAvailable('pid:waiter')
  assert.equal(typeof pid, 'number')
  const commits = N + 1 + 1 // the sets, b's set inside the transaction, the child's pid

  // The child's row appears once its owner registered it and its memory was measured.
  let families = new Map<string, MetricFamily>()
  const row = { context: 'metrics ctx', name: 'the waiter', pid: String(pid), role: 'child' }
  await until(async () => {
    families = await scrape(server.metricsUrl!)
    return (value(families, 'zstate_process_resident_memory_bytes', row) ?? 0) > 0
  }, 'the child has a memory figure')

  assert.equal(families.get('zstate_commits_total')?.type, 'COUNTER')
  assert.equal(value(families, 'zstate_commits_total'), commits)
  assert.equal(families.get('zstate_revision')?.type, 'GAUGE')
  assert.equal(value(families, 'zstate_revision'), server.revision)
  assert.equal(value(families, 'zstate_conflicts_total'), 1)
  // No transaction had to wait its turn (spec/server-stats.spec.ts counts turns).
  assert.equal(families.get('zstate_turns_waiting')?.type, 'GAUGE')
  assert.equal(value(families, 'zstate_turns_waiting'), 0)
  assert.equal(value(families, 'zstate_turns_granted_total'), 0)
  assert.equal(value(families, 'zstate_turns_lapsed_total'), 0)
  assert.equal(value(families, 'zstate_service_providers', { service: 'math' }), 1)
  assert.equal(value(families, 'zstate_service_calls_total', { service: 'math' }), K)
  assert.equal(value(families, 'zstate_service_failed_calls_total', { service: 'math' }), 1)
  assert.equal(value(families, 'zstate_service_queued_calls', { service: 'math' }), 0)
  assert.equal(value(families, 'zstate_service_in_flight_calls', { service: 'math' }), 0)
  assert.equal(value(families, 'zstate_topic_messages_total', { topic: 'news.metrics' }), M)
  assert.ok((value(families, 'zstate_topic_bytes_total', { topic: 'news.metrics' }) ?? 0) > 0)
  const full = value(families, 'zstate_sessions', { replica: 'full' }) ?? 0
  assert.ok(full >= 4, `a, b, the context and its child: ${full} full sessions`)
  assert.equal(value(families, 'zstate_sessions', { replica: 'partial' }), 0)
  assert.equal(value(families, 'zstate_clients'), full)
  assert.ok((value(families, 'zstate_received_messages_total') ?? 0) > commits)
  assert.ok((value(families, 'zstate_received_bytes_total') ?? 0) > 0)
  assert.ok((value(families, 'zstate_sent_messages_total') ?? 0) > 0)
  assert.ok((value(families, 'zstate_published_bytes_total') ?? 0) > 0)
  assert.equal(value(families, 'zstate_history_revisions'), commits)
  assert.ok((value(families, 'zstate_history_bytes') ?? 0) > 0)
  assert.equal(value(families, 'zstate_dropped_frames_total'), 0)
  assert.ok((value(families, 'zstate_uptime_seconds') ?? 0) > 0)
  const serverRow = { role: 'server', pid: String(process.pid) }
  assert.ok((value(families, 'zstate_process_resident_memory_bytes', serverRow) ?? 0) > 0)
  const owner = { role: 'context', context: 'metrics ctx', pid: String(process.pid) }
  assert.ok((value(families, 'zstate_process_resident_memory_bytes', owner) ?? 0) > 0)
  assert.equal(typeof value(families, 'zstate_process_cpu_percent', row), 'number')
  // prom-client's own process metrics, for the server process.
  assert.ok((value(families, 'process_resident_memory_bytes') ?? 0) > 0)
  assert.equal(families.get('zstate_fsync_total'), undefined, 'no fsync figures without a data dir')

  // Gone services and exited children leave the output.
  await provider.close()
  await ctx.state.set('release', true)
  await child.wait()
  await until(async () => {
    families = await scrape(server.metricsUrl!)
    return (
      value(families, 'zstate_process_resident_memory_bytes', row) === undefined &&
      value(families, 'zstate_service_providers', { service: 'math' }) === undefined
    )
  }, 'the child and the service are gone from /metrics')
})

void test('metrics: process rows stay apart when names repeat and threads share a pid', async (t) => {
  const contexts: Context[] = []
  t.after(() => Promise.all(contexts.map((ctx) => ctx.close())))
  const server = await metricsServer(t)
  // Two contexts of one name in this process, each with two worker threads of one name.
  for (let i = 0; i < 2; i++) contexts.push(await createContext({ address: server.address, name: 'jobs' }))
  const children = contexts.flatMap((ctx, c) =>
    [0, 1].map((i) =>
      ctx.spawn(fixtureUrl('worker-idle.mjs'), { args: [`${c}-${i}`], name: 'w', thread: true }),
    ),
  )
  for (const key of ['0-0', '0-1', '1-0', '1-1']) await contexts[0]!.state.whenAvailable(`pid:${key}`)
  const rows = (families: Map<string, MetricFamily>, role: string) =>
    (families.get('zstate_process_resident_memory_bytes')?.metrics ?? []).filter(
      (row) => row.labels?.['role'] === role && row.labels['context'] === 'jobs',
    )
  let families = new Map<string, MetricFamily>()
  await until(async () => {
    families = await scrape(server.metricsUrl!)
    return rows(families, 'child').length === 4
  }, 'four child rows')
  assert.equal(rows(families, 'context').length, 2)
  const ids = new Set(
    rows(families, 'child').map((row) => `${row.labels!['context_id']} ${row.labels!['thread']}`),
  )
  assert.equal(ids.size, 4, [...ids].join(' | '))
  await contexts[0]!.state.set('release', true)
  await Promise.all(children.map((child) => child.wait()))
})

void test('metrics: only GET and HEAD of /metrics answer', async (t) => {
  const server = await metricsServer(t)
  const url = new URL(server.metricsUrl!)
  assert.equal((await fetch(new URL('/other', url))).status, 404)
  assert.equal((await fetch(new URL('/', url))).status, 404)
  const post = await fetch(url, { method: 'POST', body: '' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  const head = await fetch(url, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(await head.text(), '')
})

void test('metrics: idle connections are capped and dropped, so they cannot take the server’s descriptors (raw sockets)', async (t) => {
  const server = await metricsServer(t)
  const { hostname, port } = new URL(server.metricsUrl!)
  const sockets: Socket[] = []
  t.after(() => sockets.forEach((socket) => socket.destroy()))
  let dropped = 0
  // Three times the cap, each sending half a request and nothing more.
  for (let i = 0; i < 3 * MAX_CONNECTIONS; i++) {
    const socket = netConnect(Number(port), hostname)
    socket.on('error', () => {})
    socket.on('close', () => dropped++)
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n')
    sockets.push(socket)
  }
  await until(() => dropped >= 2 * MAX_CONNECTIONS, 'the connections beyond the cap are closed', 10_000)
  // The state server goes on, for a new client too.
  const client = await clientFor(server)
  assert.equal(await client.state.set('k', 1), 1)
  sockets.forEach((socket) => socket.destroy())
  await until(() => dropped === sockets.length, 'the idle connections are gone')
  assert.equal(value(await scrape(server.metricsUrl!), 'zstate_commits_total'), 1)
  // Scrapes that come together all get the figures.
  const together = await Promise.all(Array.from({ length: 16 }, () => scrape(server.metricsUrl!)))
  for (const families of together) assert.equal(value(families, 'zstate_commits_total'), 1)
})

void test('metrics: a connection that has not sent its whole request within 10 s is closed then (raw socket)', async (t) => {
  const server = await metricsServer(t)
  const { hostname, port } = new URL(server.metricsUrl!)
  const socket = netConnect(Number(port), hostname)
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  // Read (the 408 answer): a socket whose data is left unread never reports its close.
  socket.resume()
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())))
  await new Promise((resolve) => socket.once('connect', resolve))
  const sent = Date.now()
  socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n')
  const took =
    (await Promise.race([closed, new Promise<number>((resolve) => setTimeout(resolve, 25_000, NaN))])) - sent
  // Node looks for such connections once a second: 10 s, and at most a second more (and some slack).
  assert.ok(took >= 9_500 && took < 13_000, `closed after ${took} ms`)
})

void test('metrics: two servers in one process each serve their own figures', async (t) => {
  const [one, two] = await Promise.all([metricsServer(t), metricsServer(t)])
  const client = await clientFor(one)
  for (let i = 0; i < 4; i++) await client.state.set(`k${i}`, i)
  const [first, second] = await Promise.all([scrape(one.metricsUrl!), scrape(two.metricsUrl!)])
  assert.equal(value(first, 'zstate_commits_total'), 4)
  assert.equal(value(second, 'zstate_commits_total'), 0)
  for (const families of [first, second])
    assert.ok((value(families, 'process_resident_memory_bytes') ?? 0) > 0)
})

void test('metrics: a bad or non-loopback metrics option is refused, naming the option', async () => {
  for (const metrics of ['127.0.0.1', ':9464', 'localhost:99999', 'http://127.0.0.1:9464'])
    await assert.rejects(startServer({ metrics }), { code: 'ERR_INVALID_ARGUMENT', message: /metrics/ })
  await assert.rejects(startServer({ metrics: '0.0.0.0:0' }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /metrics 0\.0\.0\.0:0 is not loopback/,
  })
  await assert.rejects(startServer({ metrics: '10.1.2.3:0' }), { code: 'ERR_INVALID_ARGUMENT' })
})

void test('metrics: a port already taken fails startServer with ERR_INVALID_ARGUMENT, leaving nothing open', async (t) => {
  const first = await metricsServer(t)
  const taken = new URL(first.metricsUrl!).port
  await assert.rejects(startServer({ metrics: `127.0.0.1:${taken}` }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: new RegExp(`metrics: cannot listen on 127\\.0\\.0\\.1:${taken}`),
  })
})

void test('metrics: the endpoint is gone once the server is closed', async (t) => {
  const server = await metricsServer(t)
  const url = server.metricsUrl!
  await scrape(url)
  await server.close()
  await assert.rejects(fetch(url), (error: Error) => {
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
    return true
  })
})

void test('metrics: a durable server counts its fsyncs and their time', async (t) => {
  const server = await metricsServer(t, { dataDir: join(tempDir(t), 'data') })
  const client = await clientFor(server)
  for (let i = 0; i < 3; i++) await client.state.set(`d${i}`, i)
  const families = await scrape(server.metricsUrl!)
  assert.equal(families.get('zstate_fsync_total')?.type, 'COUNTER')
  assert.ok((value(families, 'zstate_fsync_total') ?? 0) > 0)
  assert.ok((value(families, 'zstate_fsync_seconds_total') ?? -1) >= 0)
  assert.equal(value(families, 'zstate_commits_total'), 3)
})

void test('metrics: zstate serve --metrics logs a URL that answers; a bad value is a usage error', async (t) => {
  assertBuilt()
  const dir = tempDir(t)
  const serve = new CliProcess(
    ['serve', '--address', `ipc://${join(dir, 'cli.sock')}`, '--metrics', '127.0.0.1:0'],
    cliEnv(),
  )
  t.after(() => serve.kill())
  const log = await serve.waitFor('stderr', (text) => /metrics at http:\S+\n/.test(text))
  const url = /metrics at (http:\S+)\n/.exec(log)![1]!
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const families = await scrape(url)
  assert.equal(value(families, 'zstate_commits_total'), 0)
  assert.equal((await serve.signal('SIGTERM')).code, 0)

  for (const bad of ['nope', '0.0.0.0:9464']) {
    const refused = new CliProcess(['serve', '--metrics', bad], cliEnv())
    assert.equal((await refused.exited).code, 2, refused.stderr)
    assert.match(refused.stderr, /option --metrics/)
  }
})
