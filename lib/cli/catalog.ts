// The commands and options of `zstate`: one table that both the parser and the help text read.

export const OPTIONS = {
  address: { type: 'string', short: 'a' },
  timeout: { type: 'string', short: 't' },
  actions: { type: 'string' },
  insecure: { type: 'boolean' },
  'data-dir': { type: 'string' },
  fsync: { type: 'string' },
  repair: { type: 'boolean' },
  metrics: { type: 'string' },
  etcd: { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'etcd-advertise': { type: 'string' },
  'curve-secret-file': { type: 'string' },
  'authorized-keys': { type: 'string' },
  'server-key': { type: 'string' },
  'key-file': { type: 'string' },
  'from-revision': { type: 'string' },
  ttl: { type: 'string' },
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  table: { type: 'boolean' },
  resume: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const
export type OptionName = keyof typeof OPTIONS

// An option's flags and what it does; help aligns the two columns (help.ts).
export type OptionHelp = readonly [flags: string, text: string]

// serve's --address is where it listens: it never reads ZSTATE_ADDRESS.
export const SERVE_ADDRESS_HELP: OptionHelp = [
  '-a, --address A',
  'where to listen (default: a private ipc:// path; ZSTATE_ADDRESS is not read)',
]

export const OPTION_HELP: Record<OptionName, OptionHelp> = {
  address: ['-a, --address A', 'server address (default: $ZSTATE_ADDRESS)'],
  timeout: ['-t, --timeout MS', 'give up on an unreachable server after MS ms (default: 5000)'],
  actions: ['    --actions FILE', 'module whose named exports are server actions'],
  insecure: ['    --insecure', 'allow tcp on a non-loopback interface without curve'],
  'data-dir': ['    --data-dir DIR', 'keep the state in DIR (write-ahead log + snapshots) across restarts'],
  fsync: ['    --fsync P', 'with --data-dir: always (default), interval (≤ 1 s) or never'],
  repair: ['    --repair', 'with --data-dir: cut a damaged log at its first bad record'],
  metrics: ['    --metrics H:P', 'serve Prometheus metrics at http://H:P/metrics (port 0: a free one)'],
  etcd: ['    --etcd URLS', 'be a gateway to the state held by etcd at URLS (comma-separated)'],
  'etcd-prefix': [
    '    --etcd-prefix P',
    'with --etcd: the key prefix the state lives under (default: zstate/)',
  ],
  'etcd-advertise': [
    '    --etcd-advertise A',
    'with --etcd: where the other gateways reach this one (default: its address)',
  ],
  'curve-secret-file': [
    '    --curve-secret-file F',
    'encrypt (CurveZMQ) with the key pair in F, from zstate keygen',
  ],
  'authorized-keys': ['    --authorized-keys FILE|any', 'the client public keys let in (one a line), or any'],
  'server-key': ['    --server-key KEY', "the curve server's public key (default: $ZSTATE_SERVER_KEY)"],
  'key-file': ['    --key-file F', "this client's key pair, from zstate keygen (default: $ZSTATE_KEY_FILE)"],
  'from-revision': ['    --from-revision N', 'replay changes from revision N (kept in server history)'],
  ttl: ['    --ttl MS', 'set: delete the key unless it is written again within MS ms'],
  once: ['    --once', 'print one frame (top) or message (sub) and exit'],
  json: ['    --json', 'JSON lines: one per frame (top) or service (services, the default)'],
  table: ['    --table', 'services: an aligned table for reading, instead of JSON lines'],
  resume: ['    --resume', 'after the server was replaced, print {"reset":true,…} and go on'],
  port: ['    --port N', 'dashboard: the HTTP port (default: 7070; 0 picks a free one)'],
  host: ['    --host H', 'dashboard: the interface to listen on (default: 127.0.0.1)'],
  token: ['    --token T', 'dashboard: every request must carry T (16+ chars; required off loopback)'],
  help: ['-h, --help', 'show this help'],
  version: ['-v, --version', 'print the zstate version'],
}

export interface CommandSpec {
  readonly summary: string
  readonly required: readonly string[]
  readonly optional: readonly string[]
  /** Set when the last optional argument may repeat (`[JSON…]`). */
  readonly repeats?: true
  readonly options: readonly OptionName[]
  readonly details: string
}

const CLIENT_OPTIONS = [
  'address',
  'timeout',
  'server-key',
  'key-file',
  'help',
] as const satisfies readonly OptionName[]

export const COMMANDS = {
  serve: {
    summary: 'run a state server; prints its address',
    required: [],
    optional: [],
    options: [
      'address',
      'actions',
      'insecure',
      'data-dir',
      'fsync',
      'repair',
      'metrics',
      'etcd',
      'etcd-prefix',
      'etcd-advertise',
      'curve-secret-file',
      'authorized-keys',
      'help',
    ],
    details: `Prints exactly one line on stdout: the address clients pass to connect() (with the bound
port when A ends in :*). Logs go to stderr. SIGINT, SIGTERM or SIGHUP closes the server, exit 0.
With --data-dir the state survives restarts, crashes included (docs/durability.md).
With --etcd the state lives in etcd, and every server started on the same etcd and prefix is a
gateway to it; clients given several gateways fail over between them (docs/scale-out.md).
With --metrics HOST:PORT it also serves Prometheus metrics (docs/observability.md), on loopback
unless --insecure, and logs their URL.
With --curve-secret-file and --authorized-keys (both or neither) every connection is encrypted
and only the listed client keys get in; clients then need --server-key and --key-file.
Without --address the server listens on ipc:// in a private temp dir (ZSTATE_ADDRESS is
not read: it names a server to join, not one to start). Under a supervisor (systemd, a
container), start it with exec so that the signals reach it: see docs/cli.md. Example:
  zstate serve --address 'tcp://127.0.0.1:*'`,
  },
  get: {
    summary: 'print the value of KEY as one line of JSON',
    required: ['KEY'],
    optional: [],
    options: CLIENT_OPTIONS,
    details: 'An absent key prints nothing and exits 1.',
  },
  set: {
    summary: 'store a JSON value under KEY (- reads it from stdin); prints the revision',
    required: ['KEY', 'JSON'],
    optional: [],
    options: [...CLIENT_OPTIONS, 'ttl'],
    details: `JSON is one argument (quote it in the shell). A string is JSON with its double quotes, so
the shell needs both: zstate set greeting '"hello"'. Values JSON cannot hold use one-key objects:
  {"$bigint":"123"}   {"$date":"2024-01-31T12:00:00.000Z"}   {"$base64":"aGk="}
  {"$number":"NaN"}   ("Infinity", "-Infinity")
JSON - reads the value from stdin instead (one JSON document; to store the string "-", pass '"-"').
Examples:
  zstate set config '{"retries":3,"since":{"$date":"2024-01-31T12:00:00Z"}}'
  zstate set counter -1
  jq -c .settings app.json | zstate set settings -
  zstate set backup/alive true --ttl 60000    # gone unless set again within a minute`,
  },
  del: {
    summary: 'delete KEY; prints true, or false when it was absent',
    required: ['KEY'],
    optional: [],
    options: CLIENT_OPTIONS,
    details: '',
  },
  incr: {
    summary: 'add BY (default 1) to the number under KEY atomically; prints the new value',
    required: ['KEY'],
    optional: ['BY'],
    options: CLIENT_OPTIONS,
    details: `BY is an integer, negative to subtract: zstate incr counter -5. An absent key counts as 0;
a bigint value stays a bigint ({"$bigint":"…"}). A value that is not a number fails with
ERR_INVALID_ARGUMENT, exit 1.`,
  },
  clear: {
    summary: 'delete every key (under PREFIX) in one revision; prints the revision',
    required: [],
    optional: ['PREFIX'],
    options: CLIENT_OPTIONS,
    details: `Without PREFIX, every key of the store is deleted. PREFIX is a plain prefix, as for keys.
When there is nothing to delete, nothing is committed: stdout stays empty, a line on stderr says so.`,
  },
  keys: {
    summary: 'list the keys (under PREFIX), one per line, sorted',
    required: [],
    optional: ['PREFIX'],
    options: CLIENT_OPTIONS,
    details: `PREFIX is a plain prefix, not a pattern: * and ? match only themselves (a line on stderr
says so when PREFIX holds one). Without PREFIX, every key is listed.`,
  },
  watch: {
    summary: 'print one JSON line per change (under PREFIX) until interrupted',
    required: [],
    optional: ['PREFIX'],
    options: [...CLIENT_OPTIONS, 'from-revision', 'resume'],
    details: `Each line is {"revision":R,"key":K,"value":V,"deleted":false}; a deleted key has
"value":null and "deleted":true. Only changes after the start are printed, or from
revision N with --from-revision. A line on stderr says when watching has begun.
PREFIX is a plain prefix, as for keys. SIGINT or SIGTERM ends it, exit 0.
When the server is replaced (restarted, new epoch), watch ends with ERR_COMPACTED, exit 1;
with --resume it prints {"reset":true,"revision":N} (the new server's revision) and goes on.`,
  },
  services: {
    summary: 'list the services with their provider counts and methods',
    required: [],
    optional: [],
    options: [...CLIENT_OPTIONS, 'json', 'table'],
    details: `One JSON line per service, sorted by name (nothing when there are none):
{"name":"math","providers":2,"methods":["add","mul"]}. --table prints an aligned table instead.`,
  },
  call: {
    summary: 'call METHOD of SERVICE with JSON arguments; prints the result as one JSON line',
    required: ['SERVICE', 'METHOD'],
    optional: ['JSON…'],
    repeats: true,
    options: CLIENT_OPTIONS,
    details: `Each JSON argument is one argument of the method, in the JSON forms of set:
  zstate call math add 1 2        zstate call users find '{"name":"ada"}'
A result of undefined prints null. No provider (ERR_NO_PROVIDER), a handler that threw
(ERR_REMOTE) and any other failure: one line on stderr, exit 1. --timeout bounds the call.`,
  },
  pub: {
    summary: 'publish a JSON message on TOPIC',
    required: ['TOPIC', 'JSON'],
    optional: [],
    options: CLIENT_OPTIONS,
    details: `Prints nothing; exits 0 once the server has accepted the message. Topics are at most once:
only subscribers already listening get it.`,
  },
  sub: {
    summary: 'print one JSON line per message on topics under PREFIX until interrupted',
    required: [],
    optional: ['PREFIX'],
    options: [...CLIENT_OPTIONS, 'once'],
    details: `Each line is {"topic":T,"message":M}, M in the JSON forms of get. A line on stderr says when
the subscription has reached the server (messages published after it arrive). Without PREFIX,
every topic. --once exits 0 after the first message; SIGINT or SIGTERM ends it, exit 0.`,
  },
  info: {
    summary: 'print the server version, protocol, pid, epoch, revision and clients',
    required: [],
    optional: [],
    options: CLIENT_OPTIONS,
    details: 'Prints one line of JSON.',
  },
  top: {
    summary: 'live view: revision, commits/s, clients, processes with CPU and memory',
    required: [],
    optional: [],
    options: [...CLIENT_OPTIONS, 'once', 'json'],
    details: `Refreshes every second; q or Ctrl-C quits. Lists the server, its clients, and every process
of every context (zstate's createContext) with its status, CPU (% of one core), memory and age;
the server gathers these with pidusage. A process the server has not heard from for 4 heartbeat
periods (2 s by default: stopped, hung, or gone) shows as silent. --once prints one frame and exits; --json prints frames
as JSON lines, for scripts.`,
  },
  dashboard: {
    summary: 'a live web page: keys, changes, commits/s, processes, services, topics',
    required: [],
    optional: ['ADDRESS'],
    options: [...CLIENT_OPTIONS, 'port', 'host', 'token'],
    details: `Serves the page over HTTP and prints its URL (with the bound port when --port 0), then runs
until SIGINT or SIGTERM, exit 0. ADDRESS is the server (else --address or $ZSTATE_ADDRESS).
It listens on 127.0.0.1 unless --host says otherwise; a host that is not loopback is refused
(exit 2) without --token. With --token T every request (page, assets, live feed) must carry
it, as Authorization: Bearer T or ?token=T: the printed URL has it. See docs/dashboard.md.
Example:
  zstate dashboard --port 0 'tcp://127.0.0.1:40123'`,
  },
  keygen: {
    summary: 'print a new CurveZMQ key pair as one JSON line',
    required: [],
    optional: [],
    options: ['help'],
    details: `Prints {"publicKey":"…","secretKey":"…"} (Z85, 40 characters each), the format that
--key-file and --curve-secret-file read. Keep the file private, as ssh keys are:
  (umask 077; zstate keygen > alice.key)
The publicKey alone goes into the server's --authorized-keys file (a client key) or to
--server-key (the server's key).`,
  },
  demo: {
    summary: 'the showcase: a context, cooperating workers, a map with a progress bar',
    required: [],
    optional: [],
    options: ['help'],
    details: 'Needs no configuration; runs for a few seconds and exits 0.',
  },
  help: {
    summary: 'show help for a command',
    required: [],
    optional: ['COMMAND'],
    options: ['help'],
    details: '',
  },
} as const satisfies Record<string, CommandSpec>
export type CommandName = keyof typeof COMMANDS

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(COMMANDS, name)
}

export function synopsis(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name]
  const args = [...spec.required, ...spec.optional.map((a) => `[${a}]`)]
  const options = spec.options.filter((o) => o !== 'help').length > 0 ? ['[options]'] : []
  return ['zstate', name, ...args, ...options].join(' ')
}
