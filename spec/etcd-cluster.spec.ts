import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { etcdSkipReason, startEtcd, startEtcdCluster } from './fixtures/etcd-cluster.ts'
import { alive, allGone, until } from './process-support.ts'

// The etcd harness itself (spec/fixtures/etcd-cluster.ts), against real etcd: what the etcd specs
// and benchmarks build on must start, lose and regain members, and clean up after itself.

const skip = etcdSkipReason('etcd-cluster.spec')
const FIXTURE = fileURLToPath(new URL('./fixtures/etcd-cluster.ts', import.meta.url))
const REPO = fileURLToPath(new URL('..', import.meta.url))

// Puts until one succeeds, every try bounded by a gRPC deadline: while a leader is being elected etcd
// drops proposals, and a put sent then is only answered after etcd's request timeout (6 s with the
// harness's flags). Resolves with the ms it took.
async function putWithin(client: Etcd3, key: string, value: string, ms: number): Promise<number> {
  const start = Date.now()
  const deadline = start + ms
  const put = (): Promise<boolean> =>
    client
      .put(key)
      .value(value)
      .options({ deadline: Math.min(deadline, Date.now() + 1000) })
      .then(
        () => true,
        () => false,
      )
  await until(put, `a put of ${key} succeeds`, ms)
  return Date.now() - start
}

test(
  'a 3-member cluster writes with one member down, not with two, and again after a restart',
  { skip },
  async () => {
    await using cluster = await startEtcdCluster()
    assert.equal(cluster.members.length, 3)
    assert.equal(new Set(cluster.endpoints).size, 3, 'every member has its own client port')
    assert.deepEqual(
      cluster.endpoints,
      cluster.members.map((m) => m.clientUrl),
    )
    assert.ok(cluster.members.every((m) => m.running && m.pid !== undefined))
    // Started means healthy already: no waiting needed.
    await cluster.waitHealthy(undefined, 1000)

    const client = new Etcd3({ hosts: cluster.endpoints })
    try {
      await client.put('k').value('v1')
      assert.equal(await client.get('k').string(), 'v1')

      const first = cluster.members[0]!.pid!
      await cluster.kill(0)
      assert.equal(cluster.members[0]!.running, false)
      assert.ok(!alive(first), 'kill waits for the exit')
      // Two of three are a quorum. Member 0 may have led: then the put waits for an election (~1 s).
      await putWithin(client, 'k', 'v2', 10_000)
      assert.equal(await client.get('k').string(), 'v2')

      await cluster.kill(1)
      // One of three is not a quorum: the put cannot succeed, and etcd does not refuse it either (it
      // answers only after its 6 s request timeout). The call's own deadline ends it with the race;
      // another key, as an entry logged uncommitted may still commit once member 1 is back.
      const put = client
        .put('no-quorum')
        .value('x')
        .options({ deadline: Date.now() + 3000 })
        .then(
          () => 'succeeded',
          () => 'failed',
        )
      const outcome = await Promise.race([put, sleep(3000, 'timed out')])
      assert.notEqual(outcome, 'succeeded')
      await put

      await cluster.restart(1)
      assert.ok(cluster.members[1]!.running)
      await putWithin(client, 'k', 'v3', 10_000)
      assert.equal(await client.get('k').string(), 'v3')
    } finally {
      client.close()
    }

    const pids = cluster.members.map((m) => m.pid!)
    await cluster.close()
    assert.ok(cluster.members.every((m) => !m.running))
    for (const pid of pids) assert.ok(!alive(pid), `etcd pid ${pid} is gone after close`)
    assert.equal(existsSync(cluster.dir), false, 'its temp dir is removed')
  },
)

test(
  'startEtcd: one member in a dir of ours, which keeps its data across a kill and stays',
  { skip },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zstate-etcd-spec-'))
    try {
      const etcd = await startEtcd({ dir })
      try {
        assert.equal(etcd.members.length, 1)
        assert.equal(etcd.dir, dir)
        const client = new Etcd3({ hosts: etcd.endpoints })
        try {
          await client.put('kept').value('yes')
          await etcd.kill(0)
          await etcd.restart(0)
          assert.equal(await client.get('kept').string(), 'yes', 'the restart reads the same data dir')
        } finally {
          client.close()
        }
      } finally {
        await etcd.close()
      }
      assert.ok(existsSync(join(dir, 'm0')), "the caller's dir is left alone")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  },
)

test(
  'a test process that exits without closing its cluster takes the members with it',
  { skip },
  async () => {
    // A child starts a cluster and just ends: no close. The members are unref'd, so it exits as soon as
    // its own work is done, and the exit hook SIGKILLs them and removes the temp dir.
    const code = [
      `const { startEtcdCluster } = await import(${JSON.stringify(FIXTURE)})`,
      `const cluster = await startEtcdCluster()`,
      `console.log(JSON.stringify({ pids: cluster.members.map((m) => m.pid), dir: cluster.dir }))`,
    ].join('\n')
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
    clearTimeout(killer)
    assert.deepEqual({ exitCode, signal }, { exitCode: 0, signal: null }, 'the child exits by itself')
    const { pids, dir } = JSON.parse(stdout) as { pids: number[]; dir: string }
    assert.equal(pids.length, 3)
    // SIGKILL is sent before the child exits; its delivery takes a moment.
    await allGone(pids, 5000)
    for (const pid of pids) assert.ok(!alive(pid), `etcd pid ${pid} did not outlive its test process`)
    assert.equal(existsSync(dir), false)
  },
)
