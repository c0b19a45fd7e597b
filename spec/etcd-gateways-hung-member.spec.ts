// An etcd member that hangs (SIGSTOP here; a partition that drops packets or a blocked disk in the
// field) answers nothing and closes nothing, where a killed one refuses at once. etcd3 kept sending a
// third of the requests to it, each waiting out its 5 s deadline, and the watch and the leases'
// keep-alives stayed on it: writes crawled (a few per 5 s, one waiting 16 s), and sessions lost their
// ephemeral keys though they lived on.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { client, etcdGateways } from './fixtures/etcd-gateways.ts'

// The server's default heartbeat, so session leases last their default 5 s.
const { skip, cluster, gateways } = etcdGateways('etcd-gateways-hung-member.spec', { heartbeatMs: 500 })

const LEASE_MS = 5000
// A write waits at most for the member to be set aside (a status request's deadline, 1 s here, after
// at most one probe interval) and its transaction sent again; a request's own deadline is 5 s.
const SLOWEST_WRITE_MS = 3500

// The index of the member that leads now (`leader: true`) or of one that follows.
async function memberOf(role: 'leader' | 'follower'): Promise<number> {
  const statuses = await Promise.all(
    cluster().endpoints.map(async (endpoint) => {
      const probe = new Etcd3({ hosts: endpoint })
      try {
        const status = await probe.maintenance.status()
        return status.leader === status.header.member_id
      } finally {
        probe.close()
      }
    }),
  )
  const index = statuses.indexOf(role === 'leader')
  assert.ok(index >= 0, `a ${role} among ${statuses.join(', ')}`)
  return index
}

test(
  'an etcd member that hangs, leader or follower: writes go on after a moment, watchers miss nothing, ephemeral keys stay',
  { skip },
  async (t) => {
    const [a, b] = await gateways(t, 2)
    const onA = await client(t, a!.address)
    const onB = await client(t, b!.address)
    await onA.state.set('presence/a', 'here', { ephemeral: true })
    await onB.state.whenEqual('presence/a', 'here', { timeout: 5000 })
    const seen: unknown[] = []
    const watching = (async () => {
      for await (const change of onB.state.watch({ key: 'n' })) seen.push(change.value)
    })()
    let n = 0
    for (const role of ['leader', 'follower'] as const) {
      const index = await memberOf(role)
      const pid = cluster().members[index]!.pid!
      const resume = (): void => void process.kill(pid, 'SIGCONT')
      t.after(resume)
      process.kill(pid, 'SIGSTOP')
      const stoppedAt = Date.now()
      let slowest = 0
      // Past a lease's life: a lease whose keep-alives stayed on the hung member would have ended.
      while (Date.now() - stoppedAt < LEASE_MS + 2000) {
        const started = performance.now()
        await onA.state.set('n', ++n)
        slowest = Math.max(slowest, performance.now() - started)
        assert.equal(onA.state.get('presence/a'), 'here', `the ephemeral key after write ${n}`)
      }
      t.diagnostic(`${role} hung: ${n} writes so far, the slowest ${Math.round(slowest)} ms`)
      assert.ok(slowest < SLOWEST_WRITE_MS, `the slowest write with the ${role} hung took ${slowest} ms`)
      await onB.state.whenEqual('n', n, { timeout: 10_000 })
      assert.equal(onB.state.get('presence/a'), 'here', `the ephemeral key, seen through gateway B`)
      resume()
      await cluster().waitHealthy(index)
    }
    assert.deepEqual(
      seen.slice(0, n),
      Array.from({ length: n }, (_, i) => i + 1),
      'every write, in order',
    )
    await onB.close()
    await watching.catch(() => {})
  },
)
