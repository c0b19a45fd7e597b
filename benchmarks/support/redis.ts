import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

// A throwaway redis-server for the Redis baselines: our own instance on a free loopback port, no
// persistence, stopped by its pid. Redis is optional: without it the Redis rows are skipped, never failed.

export interface RedisInstance extends AsyncDisposable {
  readonly port: number
  readonly pid: number
  // A new connected client; the caller quits it.
  connect(): Promise<Redis>
}

let noticePrinted = false

function redisInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

// Starts redis-server, or prints why not (once) and returns undefined.
export async function startRedis(): Promise<RedisInstance | undefined> {
  if (!redisInstalled()) {
    if (!noticePrinted) {
      console.log('SKIP Redis baselines: redis-server is not installed (apt-get install -y redis-server).')
      noticePrinted = true
    }
    return undefined
  }
  const port = await freePort()
  const server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const exited = once(server, 'exit')
  try {
    await waitForPing(port, exited)
  } catch (error) {
    await stop(server, exited)
    throw error
  }
  return {
    port,
    pid: server.pid ?? -1,
    connect: () => connectRedis(port),
    [Symbol.asyncDispose]: () => stop(server, exited),
  }
}

// The OS picks a free port; the tiny window before redis-server binds it is acceptable for a benchmark.
async function freePort(): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  probe.close()
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

// A client of the instance on `port`, also for side processes, which get only the port.
export async function connectRedis(port: number): Promise<Redis> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  await client.connect()
  return client
}

// Conditions, not sleeps, decide readiness: it is up when it answers PING.
async function waitForPing(port: number, exited: Promise<unknown>): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (gone) throw new Error('redis-server exited during startup')
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    client.on('error', () => {})
    try {
      await client.connect()
      if ((await client.ping()) === 'PONG') return
    } catch {
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer PING on port ${port} within 10 s`)
      await sleep(20)
    } finally {
      client.disconnect()
    }
  }
}

async function stop(server: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) return
  process.kill(server.pid, 'SIGTERM')
  const killer = setTimeout(() => server.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(killer)
}
