// Wire vocabulary shared by server and client. docs/protocol.md is the normative description.

export const PROTOCOL_VERSION = 1

// Request op codes: a request is [requestId, op, ...args].
export const Op = {
  HELLO: 1, //     [protocol, token, pid, name]       → [protocol, version, epoch, revision, pubEndpoint, maxMessageBytes, heartbeatMs]
  ECHO: 2, //      [token]                             → []   and publishes frame 'h'+token on PUB
  SNAPSHOT: 3, //  [cursor | null]                     → [epoch, revision, [[key, value], ...], nextCursor | null]
  HISTORY: 4, //   [fromRevision, toRevision]          → [epoch, [[revision, changes], ...]]  (a page; may stop early)
  SYNC: 5, //      []                                  → [epoch, revision]
  SET: 6, //       [key, value]                        → [revision]
  DELETE: 7, //    [key]                               → [revision]       0: key was absent, nothing committed
  UPDATE: 8, //    [[[key, value], ...]]               → [revision]
  CLEAR: 9, //     [prefix]                            → [revision]       0: nothing to delete; '' clears all
  INCREMENT: 10, //[key, by]                           → [revision, value]
  CAS: 11, //      [key, expectAbsent, expected, next] → [revision]       0: no match, nothing committed
  INFO: 12, //     []                                  → [version, protocol, pid, epoch, revision, clients, uptime, droppedFrames]
  PING: 13, //     []                                  → []   (client heartbeat)
  BYE: 14, //      []                                  → []   (session ends)
} as const
export type Op = (typeof Op)[keyof typeof Op]

// Reply status: a reply is [requestId, OK, ...payload] or [requestId, ERROR, code, message, detail?].
export const Status = { OK: 0, ERROR: 1 } as const

// A change inside a commit: [key, SET, value] | [key, PATCH, patches] | [key, DELETE] | [null, CLEAR].
export const ChangeKind = { SET: 0, PATCH: 1, DELETE: 2, CLEAR: 3 } as const
export type ChangeKind = (typeof ChangeKind)[keyof typeof ChangeKind]

export type WireChange =
  | readonly [key: string, kind: 0, value: unknown]
  | readonly [key: string, kind: 1, patches: unknown[]]
  | readonly [key: string, kind: 2]
  | readonly [key: null, kind: 3]

export type WireCommit = readonly [revision: number, changes: readonly WireChange[]]

// PUB channels: frame 0 of every published message.
export const Channel = {
  STATE: 's', //     frame 1: [epoch, [[revision, changes], ...]]
  HEARTBEAT: 'b', // frame 1: [epoch, revision]
  ECHO: 'h', //      'h' + token; frame 1 empty
} as const
