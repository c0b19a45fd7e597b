import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { connect as connectTcp, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { nowUs } from './clock.ts'

// A throwaway redis-server for the Redis baselines: our own instance on a free loopback port, stopped
// by its pid; no persistence unless asked for. Redis is optional: without it the Redis rows are
// skipped, never failed.

export interface RedisOptions {
  // Turns the append-only file on, fsynced as Redis's appendfsync says (RDB snapshots stay off).
  readonly appendfsync?: 'always' | 'everysec'
  // Where the AOF (appendonlydir/) and dump.rdb go (created if missing), kept afterwards: the caller
  // owns it, and a restart on it loads what it holds. Default, with appendfsync: a fresh temp dir,
  // removed on dispose.
  readonly dir?: string
}

export interface RedisInstance extends AsyncDisposable {
  readonly port: number
  readonly pid: number
  // The data dir with persistence on; undefined without.
  readonly dir: string | undefined
  // µs from spawning redis-server until it first answered PING (after loading its data: while
  // loading it answers -LOADING).
  readonly startupUs: number
  // A new connected client; the caller quits it.
  connect(): Promise<Redis>
}

let noticePrinted = false
let installed: boolean | undefined

function redisInstalled(): boolean {
  installed ??= spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
  return installed
}

// Starts redis-server, or prints why not (once) and returns undefined.
export async function startRedis(options: RedisOptions = {}): Promise<RedisInstance | undefined> {
  if (!redisInstalled()) {
    if (!noticePrinted) {
      console.log('SKIP Redis baselines: redis-server is not installed (apt-get install -y redis-server).')
      noticePrinted = true
    }
    return undefined
  }
  const persistent = options.appendfsync !== undefined || options.dir !== undefined
  const ownDir = persistent && options.dir === undefined
  const dir = ownDir ? await mkdtemp(join(tmpdir(), 'zstate-bench-redis-')) : options.dir
  if (dir !== undefined) await mkdir(dir, { recursive: true })
  const removeDir = async (): Promise<void> => {
    if (ownDir && dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
  const persistence =
    dir === undefined
      ? ['--appendonly', 'no']
      : ['--dir', dir, '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'everysec']
  const port = await freePort()
  const start = nowUs()
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  const exited = once(server, 'exit')
  try {
    await waitForPing(port, exited)
  } catch (error) {
    await stop(server, exited)
    await removeDir()
    throw error
  }
  const startupUs = nowUs() - start
  return {
    port,
    pid: server.pid ?? -1,
    dir,
    startupUs,
    connect: () => connectRedis(port),
    async [Symbol.asyncDispose]() {
      await stop(server, exited)
      await removeDir()
    },
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

// Conditions, not sleeps, decide readiness: it is up when it answers PING with PONG. A bare socket
// polled every millisecond, so that startupUs is the load time and not the polling's.
async function waitForPing(port: number, exited: Promise<unknown>): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (gone) throw new Error('redis-server exited during startup')
    if (await pingUntilNotLoading(port, deadline)) return
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s`)
    await sleep(1)
  }
}

// One connection: true once PING answers PONG; false when it could not connect or was cut off.
async function pingUntilNotLoading(port: number, deadline: number): Promise<boolean> {
  const socket = connectTcp({ port, host: '127.0.0.1' })
  socket.setNoDelay(true)
  socket.on('error', () => {}) // refused or reset: 'close' follows, and we try again
  try {
    await once(socket, 'connect')
    while (Date.now() <= deadline) {
      socket.write('PING\r\n')
      if ((await reply(socket)).startsWith('+PONG')) return true
      await sleep(1) // -LOADING: still reading its data
    }
    return false
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

// The next chunk the socket receives; rejects if it closes first.
function reply(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer): void => {
      done()
      resolve(data.toString('latin1'))
    }
    const onClose = (): void => {
      done()
      reject(new Error('closed before replying'))
    }
    const done = (): void => {
      socket.off('data', onData).off('close', onClose)
    }
    socket.on('data', onData).on('close', onClose)
  })
}

async function stop(server: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) return
  process.kill(server.pid, 'SIGTERM')
  const killer = setTimeout(() => server.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(killer)
}
