import { deepStrictEqual } from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Client } from '../../lib/index.ts'
import { zstatePackage } from './built.ts'
import { redisPipelinedSets } from '../baselines/redis-set.ts'
import { nowUs } from './clock.ts'
import { fileSizes } from './disk.ts'
import { n } from './format.ts'
import type { IpcDir } from './ipc.ts'
import { startRedis } from './redis.ts'
import { itemOf, keyOf } from './values.ts'

const { connect } = zstatePackage

// The durability scenario's restart half: a zstate data dir and a Redis AOF, each filled once with
// the same keys, then timed from spawning a fresh server on them until it answers. The zstate servers
// run from dist/ as plain JavaScript, as users run them (and as process-spawn's children do): from
// source every start would first compile zstate through tsx, which costs more than the restart.

// What a zstate data dir holds (docs/durability.md): log segments named by their first revision,
// snapshots named by theirs, a LOCK file and *.tmp files on their way to a name.
const SEGMENT = /^log-(\d+)\.zlog$/
const SNAPSHOT = /^snapshot-\d+\.zsnap$/

export interface ZstateFill {
  readonly dataDir: string
  readonly keys: number
  readonly revision: number // the store's revision once filled, which a restart must report
  readonly logBytesPerCommit: number
  readonly logBytes: number // the segments the data dir holds after the fill and a clean close
  readonly snapshotBytes: number | undefined // undefined: no snapshot was written
  readonly notes: readonly string[]
}

export interface RedisFill {
  readonly dir: string
  readonly keys: number
  readonly aofBytesPerSet: number
  readonly rdbBytes: number
}

function sum(sizes: Map<string, number>, include: (path: string) => boolean = () => true): number {
  let total = 0
  for (const [path, size] of sizes) if (include(path)) total += size
  return total
}

// `keys` sets in flight from a pure writer, one revision each (so the default history ends up full),
// then a clean close. Bytes per commit: the segments left over the revisions they hold (from the first
// one's first revision to the last commit), so segments that a snapshot pruned do not matter.
export async function fillZstate(dir: IpcDir, dataDir: string, keys: number): Promise<ZstateFill> {
  let revision: number
  {
    await using server = await forkServer(dir.endpoint('fill'), dataDir)
    const client = await connect(server.address, { name: 'bench fill', replicate: [] })
    try {
      await Promise.all(Array.from({ length: keys }, (_, i) => client.state.set(keyOf(i), itemOf(i))))
      revision = (await client.server()).revision
    } finally {
      await client.close()
    }
  }
  const sizes = await fileSizes(dataDir)
  const firsts = [...sizes.keys()].flatMap((name) => SEGMENT.exec(name)?.[1] ?? []).map(Number)
  if (firsts.length === 0) throw new Error(`no log segment in ${dataDir} after ${n(keys)} sets`)
  const logBytes = sum(sizes, (name) => SEGMENT.test(name))
  // The newest snapshot, should an older one still be there: names sort as revisions.
  const newest = [...sizes.keys()]
    .filter((name) => SNAPSHOT.test(name))
    .sort()
    .at(-1)
  const snapshotBytes = newest === undefined ? undefined : sizes.get(newest)
  const commits = revision - Math.min(...firsts) + 1
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`
  const held =
    `${firsts.length} log segment${firsts.length === 1 ? '' : 's'} (${mib(logBytes)})` +
    (newest === undefined ? ' and no snapshot' : ` and ${newest} (${mib(snapshotBytes!)})`)
  return {
    dataDir,
    keys,
    revision,
    logBytesPerCommit: logBytes / commits,
    logBytes,
    snapshotBytes,
    notes: [
      `disk (measured once, on the restart's data: sizes do not vary between runs): after the fill and a clean close the data dir holds ${held}; log bytes per commit: the segments' bytes (headers included) over the ${n(commits)} revisions they hold; Redis: the AOF's growth over the ${n(keys)} SETs` +
        (snapshotBytes === undefined
          ? '; no snapshot-*.zsnap was written, so the size row compares the whole log with the RDB'
          : ''),
    ],
  }
}

// µs from forking a zstate server process until a client has joined it; on `fill`'s data dir, or
// without a dataDir (the floor: starting Node and loading zstate).
let starts = 0
export async function zstateStart(dir: IpcDir, fill: ZstateFill | undefined): Promise<number> {
  const t0 = nowUs()
  await using server = await forkServer(dir.endpoint(`start-${starts++}`), fill?.dataDir)
  const client = await connect(server.address, { name: 'bench restart', replicate: [] })
  const elapsed = nowUs() - t0
  try {
    if (fill !== undefined) await check(client, fill)
  } finally {
    await client.close()
  }
  return elapsed
}

interface DurableServer extends AsyncDisposable {
  readonly address: string
}

const serverModule = new URL('../sides/durable-server.mjs', import.meta.url)

// A server process running dist/ with startServer({ address, dataDir }), ready once it has sent its
// address; disposing it closes the server (a clean close) and waits for the process to exit.
async function forkServer(address: string, dataDir: string | undefined): Promise<DurableServer> {
  if (!existsSync(fileURLToPath(new URL('../../dist/lib/index.js', import.meta.url))))
    throw new Error('dist/ is missing: run "npm run build" first')
  const args = dataDir === undefined ? [address] : [address, dataDir]
  const child = fork(fileURLToPath(serverModule), args, {
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = once(child, 'exit')
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.send('stop')
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killer)
  }
  const bound = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve(String(message)))
    child.once('exit', (code) =>
      reject(new Error(`the server on ${dataDir ?? 'no data dir'} exited with ${code} before it was ready`)),
    )
  })
  return { address: bound, [Symbol.asyncDispose]: stop }
}

// The restarted server holds what was written: the same revision, and the last key's value.
async function check(client: Client, fill: ZstateFill): Promise<void> {
  const { revision } = await client.server()
  if (revision !== fill.revision)
    throw new Error(`restarted at revision ${revision}, expected ${fill.revision}`)
  const last = fill.keys - 1
  const probe = await connect(client.address, { name: 'bench check', replicate: [keyOf(last)] })
  try {
    deepStrictEqual(probe.state.get(keyOf(last)), itemOf(last))
  } finally {
    await probe.close()
  }
}

// The same keys SET into an AOF (appendfsync always, pipelines of 1,000; no rewrite at this size), and
// their RDB once saved; undefined without Redis.
export async function fillRedis(dir: string, keys: number): Promise<RedisFill | undefined> {
  await using redis = await startRedis({ appendfsync: 'always', dir })
  if (redis === undefined) return undefined
  const client = await redis.connect()
  try {
    const aof = async (): Promise<number> => sum(await fileSizes(join(dir, 'appendonlydir')))
    const before = await aof()
    await redisPipelinedSets(client, keys)
    const aofBytesPerSet = ((await aof()) - before) / keys
    await client.save()
    const rdb = join(dir, 'dump.rdb')
    const rdbBytes = (await stat(rdb)).size
    await rm(rdb) // a restart must load the AOF, and nothing else
    return { dir, keys, aofBytesPerSet, rdbBytes }
  } finally {
    await client.quit()
  }
}

// µs from spawning redis-server on `fill`'s dir until it answers PING (after loading the AOF).
export async function redisRestart(fill: RedisFill): Promise<number> {
  await using redis = await startRedis({ appendfsync: 'everysec', dir: fill.dir })
  if (redis === undefined) throw new Error('redis-server went away')
  const client = await redis.connect()
  try {
    const size = await client.dbsize()
    if (size !== fill.keys) throw new Error(`redis-server restarted with ${size} keys, expected ${fill.keys}`)
  } finally {
    await client.quit()
  }
  return redis.startupUs
}
