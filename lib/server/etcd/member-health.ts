// Which etcd members answer. A member that hangs without closing its connections (a paused process,
// a partition that drops packets, a disk that blocks it) holds every request sent to it until the
// request's deadline, and a stream (a watch, a lease's keep-alives) for ever; etcd3 picks a member at
// random for each request and counts only failures, so it would keep sending a third of the writes
// there. Each member is asked for its status every PROBE_EVERY_MS; one that has not answered within
// probeDeadlineMs() is set aside while another one answers: the etcd3 clients built on this health
// send it nothing (their circuit breakers for it are held open) until it answers again, and
// `onSetAside` lets the gateway move its streams away from it. With no member answering twice in a
// row, the gateway is cut off from etcd (`onReach`): its clients may find it through another one.
// With members answering but none of them knowing a leader for LEADERLESS_MS, etcd has no quorum
// (`onLeaderless`): the gateway refuses writes rather than let each wait out its deadlines.
import type * as Cockatiel from 'cockatiel'
import type { Etcd3 } from 'etcd3'

export const PROBE_EVERY_MS = 250

// Status is answered by the member itself (no consensus), in a few ms even on a loaded machine: a
// member silent for a quarter of a session lease's life (at most 1 s) does not run, and is set aside
// early enough for the leases' keep-alives to reach another member before etcd ends them (their
// stream sends one every third of it). A healthy member set aside costs little: requests go to the
// others, and it is taken back at its next answer.
export function probeDeadlineMs(leaseSeconds: number): number {
  return Math.min(1000, leaseSeconds * 250)
}

interface Member {
  readonly endpoint: string
  readonly probe: Etcd3
  readonly breakers: Set<Cockatiel.CircuitBreakerPolicy>
  // Status requests in a row not answered in time.
  misses: number
  // Whether its last answer named a leader.
  led: boolean
  // While it is set aside: its breakers, each held open.
  isolation: Map<Cockatiel.CircuitBreakerPolicy, Cockatiel.IDisposable> | undefined
}

// The breakers of one etcd3 client: `host` is its faultHandling.host; release() once it is closed.
export interface ClientBreakers {
  readonly host: (endpoint: string) => Cockatiel.CircuitBreakerPolicy
  readonly release: () => void
}

export interface MemberHealthOptions {
  // How long a status request may take (probeDeadlineMs()).
  readonly deadlineMs: number
  // A client of that member alone, for its status requests.
  readonly probeClient: (endpoint: string) => Etcd3
  // A breaker for requests to a member of the cluster (etcd3's faultHandling.host).
  readonly breaker: () => Cockatiel.CircuitBreakerPolicy
  readonly onSetAside: (endpoint: string) => void
  // Called when no member has answered its last two status requests (false), and when one answers again.
  readonly onReach: (reachable: boolean) => void
  // Called once when no member that answers has known a leader for LEADERLESS_MS.
  readonly onLeaderless: () => void
}

// Longer than an election takes (etcd's default election timeout is 1 s; a loaded machine may double
// it), short enough that a gateway refuses writes within 5 s of losing its quorum.
export const LEADERLESS_MS = 3000

// Status requests a member must miss in a row before it counts towards the gateway being cut off.
const CUT_OFF_MISSES = 2

export class MemberHealth {
  readonly #members = new Map<string, Member>()
  readonly #options: MemberHealthOptions
  #closed = false
  #reachable = true
  // Since when no member that answers has known a leader, and whether that was reported.
  #leaderlessSince: number | undefined
  #leaderlessReported = false
  // Requests of the gateway's clients that got no answer from a member (STATS).
  #failedRequests = 0

  /** Whether some member answered lately (false: this gateway is cut off from etcd). */
  get reachable(): boolean {
    return this.#reachable
  }

  /** Requests to a member that got no answer (unreachable, refused connection, past their deadline). */
  get failedRequests(): number {
    return this.#failedRequests
  }

  constructor(endpoints: readonly string[], options: MemberHealthOptions) {
    this.#options = options
    for (const endpoint of new Set(endpoints)) {
      const member = {
        endpoint,
        probe: options.probeClient(endpoint),
        breakers: new Set<Cockatiel.CircuitBreakerPolicy>(),
        misses: 0,
        led: true,
        isolation: undefined,
      }
      this.#members.set(endpoint, member)
      void this.#watch(member)
    }
  }

  /** Breakers for a new etcd3 client's requests, held open for the members set aside. */
  clientBreakers(): ClientBreakers {
    const made: [Member, Cockatiel.CircuitBreakerPolicy][] = []
    return {
      host: (endpoint) => {
        const policy = this.#options.breaker()
        // The breaker sees every request its client sends the member; `handled`: one that got no answer.
        policy.onFailure(({ handled }) => {
          if (handled) this.#failedRequests++
        })
        const member = this.#members.get(endpoint)
        if (member !== undefined) {
          member.breakers.add(policy)
          member.isolation?.set(policy, policy.isolate())
          made.push([member, policy])
        }
        return policy
      },
      release: () => {
        for (const [member, policy] of made) {
          member.breakers.delete(policy)
          member.isolation?.get(policy)?.dispose()
          member.isolation?.delete(policy)
        }
      },
    }
  }

  close(): void {
    this.#closed = true
    for (const member of this.#members.values()) {
      member.probe.close()
      this.#release(member)
    }
  }

  async #watch(member: Member): Promise<void> {
    while (!this.#closed) {
      const status = await member.probe.maintenance
        .status({ deadline: Date.now() + this.#options.deadlineMs })
        .catch(() => undefined)
      if (this.#closed) return
      const misses = status !== undefined ? 0 : member.misses + 1
      if (status !== undefined) member.led = status.leader !== '0'
      if (misses !== member.misses) {
        member.misses = misses
        this.#settle()
      }
      this.#checkLeader()
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS).unref())
    }
  }

  // Sets aside the members that do not answer, as long as one does: with none answering, etcd is
  // down or this gateway cut off, and requests go on as etcd3 sends them (to fail or find it back).
  #settle(): void {
    const members = [...this.#members.values()]
    const anyAnswers = members.some((member) => member.misses === 0)
    for (const member of members) {
      const aside = anyAnswers && member.misses > 0
      if (aside && member.isolation === undefined) {
        member.isolation = new Map([...member.breakers].map((policy) => [policy, policy.isolate()]))
        this.#options.onSetAside(member.endpoint)
      } else if (!aside) this.#release(member)
    }
    const reachable = members.some((member) => member.misses < CUT_OFF_MISSES)
    if (reachable !== this.#reachable) {
      this.#reachable = reachable
      this.#options.onReach(reachable)
    }
  }

  #checkLeader(): void {
    const members = [...this.#members.values()]
    const answering = members.filter((member) => member.misses === 0)
    // None answering is the cut-off above, not this.
    if (answering.length === 0 || answering.some((member) => member.led)) {
      this.#leaderlessSince = undefined
      this.#leaderlessReported = false
      return
    }
    this.#leaderlessSince ??= Date.now()
    if (!this.#leaderlessReported && Date.now() - this.#leaderlessSince >= LEADERLESS_MS) {
      this.#leaderlessReported = true
      this.#options.onLeaderless()
    }
  }

  #release(member: Member): void {
    for (const held of member.isolation?.values() ?? []) held.dispose()
    member.isolation = undefined
  }
}
