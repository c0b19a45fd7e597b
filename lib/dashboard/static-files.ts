// The page's files: index.html, its scripts and style.css from lib/dashboard/public (copied to dist/
// by the build), and uPlot from its npm package. Read once, served from memory.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { libFile } from '../package-files.ts'

export interface StaticFile {
  readonly type: string
  readonly body: Buffer
}

const PUBLIC = fileURLToPath(libFile('dashboard/public/'))
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot'))
// index.html names its assets with %QUERY%, replaced by the dashboard's token query.
const QUERY = '%QUERY%'

const SOURCES: Record<string, { path: string; type: string }> = {
  '/': { path: join(PUBLIC, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { path: join(PUBLIC, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/charts.js': { path: join(PUBLIC, 'charts.js'), type: 'text/javascript; charset=utf-8' },
  '/contexts.js': { path: join(PUBLIC, 'contexts.js'), type: 'text/javascript; charset=utf-8' },
  '/format.js': { path: join(PUBLIC, 'format.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { path: join(PUBLIC, 'style.css'), type: 'text/css; charset=utf-8' },
  '/uplot.js': { path: join(UPLOT, 'uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  '/uplot.css': { path: join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
}

export class StaticFiles {
  readonly #files = new Map<string, StaticFile>()

  // `query`: the token query (`?token=…`) index.html passes on to its assets, filled in once.
  constructor(query: string) {
    for (const [route, { path, type }] of Object.entries(SOURCES)) {
      const body = readFileSync(path)
      this.#files.set(route, {
        type,
        body: route === '/' ? Buffer.from(body.toString('utf8').replaceAll(QUERY, query)) : body,
      })
    }
  }

  // The file for a path (index.html as /); undefined for any other path.
  get(pathname: string): StaticFile | undefined {
    return this.#files.get(pathname === '/index.html' ? '/' : pathname)
  }
}
