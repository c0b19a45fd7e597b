// The /metrics endpoint (`ServerOptions.metrics`): the server's STATS and process table in the
// Prometheus text format, read at scrape time. Each endpoint has its own prom-client registry, so
// several servers in one process never mix their figures.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { ErrorCode, ZStateError } from '../errors.ts'
import { boundedHttpServer, listenHttp } from '../http-listen.ts'
import type { ProcessTable } from '../protocol/process-table.ts'
import type { ServerStats } from '../protocol/server-stats.ts'
import { defineMetrics, type Scrape } from './metric-families.ts'

export interface MetricsSources {
  stats(): ServerStats
  // The table is gathered asynchronously (CPU and memory are measured): one per scrape.
  processes(): ProcessTable | Promise<ProcessTable>
}

/** A listening /metrics endpoint. */
export interface MetricsEndpoint {
  /** Where Prometheus scrapes, e.g. `http://127.0.0.1:9464/metrics` (with the bound port). */
  readonly url: string
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>
}

const PATH = '/metrics'
// What the endpoint may cost the server it lives in: connections at once (lib/http-listen.ts).
// Prometheus keeps one connection per target; scrapes that come together share one rendering.
export const MAX_CONNECTIONS = 32

// prom-client's process_ and nodejs_ metrics describe the process, whichever server serves them:
// collected once per process (its GC observer and event loop monitor are never stopped), into a
// registry of our own, never prom-client's global one.
let defaults: Registry | undefined
function processMetrics(): Registry {
  if (defaults === undefined) {
    defaults = new Registry()
    collectDefaultMetrics({ register: defaults })
  }
  return defaults
}

// Binds HOST:PORT (port 0: a free one) and answers GET /metrics from `sources`.
export async function startMetrics(
  listen: { host: string; port: number },
  sources: MetricsSources,
): Promise<MetricsEndpoint> {
  const own = new Registry()
  let current: Scrape | undefined
  const { storage, etcd } = sources.stats()
  defineMetrics(own, () => current, {
    durable: storage !== null,
    gateway: etcd !== undefined && etcd !== null,
  })
  const register = Registry.merge([processMetrics(), own])
  const server = boundedHttpServer(MAX_CONNECTIONS, (request, response) => {
    void answer(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      response.end(`${error instanceof Error ? error.message : String(error)}\n`)
    })
  })
  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0]
    if (path !== PATH) return plain(response, 404, `not found: only ${PATH} is served\n`)
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD')
      return plain(response, 405, `method ${request.method ?? ''} not allowed: GET ${PATH}\n`)
    }
    rendering ??= render().finally(() => (rendering = undefined))
    const text = await rendering
    response.writeHead(200, { 'content-type': register.contentType })
    response.end(request.method === 'HEAD' ? undefined : text)
  }
  // The scrape under way, which requests that come meanwhile wait for instead of rendering their own
  // (each costs a measurement of the processes and a pass over every family: a flood of them would
  // take the server's time).
  let rendering: Promise<string> | undefined
  async function render(): Promise<string> {
    const table = await sources.processes()
    // Every collect() runs synchronously at the start of metrics(): one consistent scrape.
    current = { stats: sources.stats(), table }
    return register.metrics()
  }
  const origin = await listenHttp(server, listen.host, listen.port).catch((error: Error) => {
    throw new ZStateError(
      ErrorCode.INVALID_ARGUMENT,
      `metrics: cannot listen on ${listen.host}:${listen.port}: ${error.message}`,
      { cause: error },
    )
  })
  let closing: Promise<void> | undefined
  return {
    url: `${origin}${PATH}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  response.end(text)
}
