// Wire vocabulary shared by server and client. docs/protocol.md is the normative description.
import type { WirePatch } from './patches.ts'

export const PROTOCOL_VERSION = 8

// Request op codes: a request is [requestId, op, ...args].
export const Op = {
  HELLO: 1, //     [protocol, token, pid, name, replicate?, keyProof?, childToken?] → [protocol, version, epoch, revision, pubEndpoint, maxMessageBytes, heartbeatMs, topicEndpoint, session]
  //                                                       replicate: key prefixes (a partial session, served by Push.COMMITS
  //                                                       instead of PUB, its writes answered [revision, result?]); nil: everything
  //                                                       childToken: a context child's, see CHILD_GONE; nil: none
  ECHO: 2, //      [token]                             → []   and publishes frame 'h'+token on PUB
  SNAPSHOT: 3, //  [cursor | null]                     → [epoch, revision, nextCursor | null, acks, [[key, value], ...]]
  //                                                       acks (first page): [[requestId, revision, result?], ...] unconfirmed
  HISTORY: 4, //   [fromRevision, toRevision]          → [epoch, [[revision, changes], ...]]  (a page; may stop early)
  SYNC: 5, //      []                                  → [epoch, revision]
  // Writes (6–11, 15, 16): one that commits is acknowledged by its commit (WireCommit.origin), not a
  // reply; the reply shapes below are for outcomes that commit nothing.
  SET: 6, //       [key, value, ephemeral?, ttl?]      → (commit)   ttl in ms, 0: none (lib/server/leases.ts)
  DELETE: 7, //    [key]                               → (commit) or [0]: key was absent, nothing committed
  UPDATE: 8, //    [[[key, value], ...]]               → (commit)
  CLEAR: 9, //     [prefix]                            → (commit) or [0]: nothing to delete; '' clears all
  INCREMENT: 10, //[key, by]                           → (commit: the new value is in its change)
  CAS: 11, //      [key, expectAbsent, expected, next] → (commit) or [0]: no match, nothing committed
  INFO: 12, //     []                                  → [version, protocol, pid, epoch, revision, clients, uptime, droppedFrames]
  PING: 13, //     [revision?]                         → [revision]   (client heartbeat; confirms acknowledgements up to revision)
  BYE: 14, //      []                                  → []   (session ends)
  TXN: 15, //      [epoch, base, readKeys, keySpaceRead, writes, queue?, heldClaim?] → (commit), [0]: read-only, validated, or [0, revision, claim]: its turn came; ERR_CONFLICT detail [keys, revision]
  RUN: 16, //      [action, args]                      → (commit, carrying the result) or [0, result]: nothing changed
  // Messaging (20–29; lib/server/broker.ts, lib/server/topics.ts). Names and topics: non-empty strings ≤ 1,024 bytes.
  PROVIDE: 20, //  [service, methods, concurrency, key] → []   key: the client's number for this provider;
  //                                                       calls then arrive as Push.CALL naming that key
  WITHDRAW: 21, // [key]                               → []   no new calls; calls in flight still report RESULT
  CALL: 22, //     [service, method, args, timeoutMs]  → [result?]  answered when the provider reports (no element: undefined);
  //                                                       ERR_NO_PROVIDER, ERR_INVALID_ARGUMENT (method), ERR_OVERFLOW (queue),
  //                                                       ERR_TIMEOUT (still queued), ERR_PROVIDER_LOST, ERR_REMOTE [name, stack, code, pid, value?]
  RESULT: 23, //   [callId, status, ...payload]        (request id 0) a provider's answer to Push.CALL, shaped like a reply
  CANCEL: 24, //   [requestId]                         (request id 0) the caller gave up on its CALL or AWAIT_SERVICE
  SERVICES: 25, // []                                  → [[service, providers, methods], ...]  sorted by name
  AWAIT_SERVICE: 26, // [service, providers]           → [providers]   answered once the service has that many providers
  PUBLISH: 27, //  [topic, message]                    → []   published on the topic PUB as 't'+topic, frame 1 the message
  TOPIC_ECHO: 28, //[token]                            → []   publishes 'h'+token on the topic PUB
  // Processes (30–39; lib/server/contexts.ts): a listing for `zstate top`, never acted on; the server
  // signals no process. A context id is 8–64 lowercase hex digits chosen by the client; the context
  // belongs to the session that opened it: only that session may change or close it (anyone else:
  // ERR_INVALID_ARGUMENT), and it is forgotten when that session ends. Per session: at most 64
  // contexts and 4,096 live children (ERR_INVALID_ARGUMENT beyond).
  CONTEXT_OPEN: 30, // [id, name, pid, threadId | null, hostId] → []   registers a context and the owner it claims
  CONTEXT_CLOSE: 31, // [id]                           → []   forgets the context (an unknown id: nothing to do)
  CHILD: 32, //    [contextId, key, pid, threadId | null, name, status, attempts, joined?] → []   a child starts, runs or ends
  //                                                       (status 'exited' | 'failed' removes it)
  PROCESSES: 33, // []                                 → [table]   every context, child, client and their CPU/memory,
  //                                                       cut to fit one reply (table.omitted counts the rest)
  STATS: 34, //    []                                  → [stats]   the server's counters, services and topics
  //                                                       (lib/protocol/server-stats.ts), for the dashboard
  CHILD_GONE: 35, // [childToken]                   → []   the child that had this token has exited: the sessions that
  //                                                       named it in HELLO end now (ephemeral keys deleted) rather than
  //                                                       when their silence expires them; an unknown token: nothing to do
} as const
export type Op = (typeof Op)[keyof typeof Op]

// Reply status: a reply is [requestId, OK, ...payload] or [requestId, ERROR, code, message, detail?].
export const Status = { OK: 0, ERROR: 1 } as const

// Request id 0 is reserved. A request with id 0 gets no reply (RESULT, CANCEL). A reply with id 0 is
// a push: the server speaking first, on the same ROUTER→DEALER path and in order with the replies:
// [0, kind, ...fields].
export const NO_REPLY = 0
export const Push = {
  CALL: 1, //    [callId, key, method, args]   run it; answer with RESULT [callId, ...]
  DROPPED: 2, // [key, message]                the server dropped this provider (silent too long): provide again
  // To a partial session, ahead of its replies of the same turn: the turn's commits cut to its prefixes,
  // each [revision, previous, changes]; `previous` chains per session: the commit before it in the
  // push, or the first one's the `upTo` of the session's last push (at first, HELLO's revision).
  COMMITS: 3, // [epoch, upTo, commits]        every matching commit up to `upTo` has now been pushed
  // From an etcd gateway that reaches no etcd member (to every session then, and to each that joins
  // while it lasts): a client given other servers goes to the next one (docs/scale-out.md).
  MOVE: 4, //    [reason]
} as const

// A change inside a commit: [key, SET, value, lease?] | [key, PATCH, patches] | [key, DELETE] |
// [null, CLEAR]. A SET with a lease keeps the key only while it holds (ephemeral keys, ttl). On the
// wire only, [key, SET_ENCODED, bytes]: a SET whose value is its MessagePack encoding inside a bin,
// which a replica keeps as it is until the value is read (lib/server/change-encoding.ts).
export const ChangeKind = { SET: 0, PATCH: 1, DELETE: 2, CLEAR: 3, SET_ENCODED: 4 } as const
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind]

// [ephemeral, expiresAt]: dies with the writer's session; expires at (ms since the epoch; 0: never).
export type WireLease = readonly [ephemeral: boolean, expiresAt: number]

export type WireChange =
  | readonly [key: string, kind: 0, value: unknown]
  | readonly [key: string, kind: 0, value: unknown, lease: WireLease]
  | readonly [key: string, kind: 1, patches: readonly WirePatch[]]
  | readonly [key: string, kind: 2]
  | readonly [key: null, kind: 3]

// A commit as published: it names the revision before it, and, when a request waits for it, its
// origin (the session number from HELLO, the request id, and an action's result), or, when several
// of one session's writes made it (an etcd gateway's batch), each one's [requestId, result?]. A write
// that commits gets no reply: this is its acknowledgement.
export interface WireCommit {
  readonly revision: number
  readonly previous: number
  readonly changes: readonly WireChange[]
  readonly origin?:
    | { readonly session: number; readonly requestId: number; readonly result?: unknown }
    | { readonly session: number; readonly acks: readonly (readonly unknown[])[] }
}

// PUB channels: frame 0 of every published message.
export const Channel = {
  STATE: 's', //     frame 1: [epoch, [[revision, previous, changes, session?, requestId?, result?], ...]]
  HEARTBEAT: 'b', // frame 1: [epoch, revision]
  ECHO: 'h', //      'h' + token; frame 1 empty
} as const

// Topic PUB channels (a second PUB socket, its endpoint appended to the HELLO reply).
export const TopicChannel = {
  MESSAGE: 't', //   't' + topic; frame 1: the message
  ECHO: 'h', //      'h' + token; frame 1 empty
} as const
