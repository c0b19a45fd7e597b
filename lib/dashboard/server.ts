// The dashboard's HTTP server (node:http): the page and its assets, and /events, the live feed.
// Every request passes authorized() first.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { boundedHttpServer, listenHttp } from '../http-listen.ts'
import type { Client } from '../client/types.ts'
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import { authorized } from './auth.ts'
import { EVENT_STREAM, Feed } from './feed.ts'
import type { Encode } from './keys.ts'
import { StaticFiles } from './static-files.ts'

export interface DashboardOptions {
  /** The client whose replica and server the page shows; the dashboard does not close it. */
  readonly client: Client
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 7070; 0 picks a free port (see `url`). */
  readonly port?: number
  /** Every request must carry it: `Authorization: Bearer T` or `?token=T`. */
  readonly token: string
  /** Turns a stored value into what JSON.stringify can write (bigint, Date, bytes). */
  readonly encode: Encode
}

export interface Dashboard {
  /** The page's address, with `?token=`. */
  readonly url: string
  close(): Promise<void>
}

// Headers on every response: nothing cached, framed or sent on to other sites (the URL has the token).
const HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; frame-ancestors 'none'",
}

// Connections at once: every page open (MAX_PAGES), its assets, and room to spare; silent ones
// beyond them are closed at once, and each is closed after 10 s without a whole request.
const MAX_CONNECTIONS = 64

// Serves the dashboard once it listens.
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { client, host = '127.0.0.1', port = 7070, token, encode } = options
  if (token === '') throw invalidArgument('startDashboard: token must not be empty')
  const query = `?token=${encodeURIComponent(token)}`
  const files = new StaticFiles(query)
  const feed = new Feed(client, encode)
  const server = boundedHttpServer(MAX_CONNECTIONS, (request, response) =>
    handle(request, response, { files, feed, token }),
  )
  let origin: string
  try {
    origin = await listenHttp(server, host, port)
  } catch (error) {
    await feed.close()
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    const hint = reason === 'EADDRINUSE' ? ' (in use: choose another port, or --port 0 for a free one)' : ''
    // As a metrics port that cannot be bound: ERR_INVALID_ARGUMENT, which the command line prints with
    // its code.
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot serve the dashboard on ${host}:${port}: ${reason}${hint}`,
      { cause: error },
    )
  }
  let closed: Promise<void> | undefined
  return {
    url: `${origin}/${query}`,
    close() {
      closed ??= (async () => {
        await feed.close()
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })()
      return closed
    },
  }
}

function handle(
  request: IncomingMessage,
  response: ServerResponse,
  { files, feed, token }: { files: StaticFiles; feed: Feed; token: string },
): void {
  for (const [name, value] of Object.entries(HEADERS)) response.setHeader(name, value)
  const url = new URL(request.url ?? '/', 'http://dashboard')
  // Browsers ask for it unprompted, without the page's token; there is none, and saying so tells
  // nothing: a 401 would be logged in the page's console at every load.
  if (url.pathname === '/favicon.ico') return void response.writeHead(204).end()
  if (!authorized(request, url, token)) {
    response.setHeader('WWW-Authenticate', 'Bearer')
    return reply(response, 401, 'a token is required: open the URL that zstate dashboard printed')
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD')
    return reply(response, 405, 'method not allowed')
  }
  if (url.pathname === '/events') {
    // HEAD gets the headers a page gets and no feed: with no body to stream, it was never answered,
    // and it held one of the pages.
    if (request.method === 'HEAD') return void response.writeHead(200, { 'Content-Type': EVENT_STREAM }).end()
    if (!feed.attach(response, url.searchParams.get('prefix') ?? ''))
      reply(response, 503, 'too many dashboard pages are open')
    return
  }
  const file = files.get(url.pathname)
  if (file === undefined) return reply(response, 404, 'not found')
  response.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length })
  response.end(request.method === 'HEAD' ? undefined : file.body)
}

// Every refusal (401, 404, 405, 503) also ends the connection: a body the request still sends (an
// endless POST) is not read on.
function reply(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' })
  response.end(`${text}\n`)
}
